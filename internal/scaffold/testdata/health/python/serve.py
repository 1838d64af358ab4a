"""Imports one module of a v2 programming model app, with the azure.functions stand-in, and
serves its HTTP triggers as the Functions host does: at /api/<route>, for the registered
methods, writing the HttpResponse's status, headers, mimetype and body. Prints the port and the
registrations as one JSON line once it listens.

    python3 serve.py APP_ROOT FILE
"""

import http.server
import importlib.util
import json
import os
import sys

app_root, module_file = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "stub"))
sys.path.insert(0, app_root)

import azure.functions as func  # noqa: E402

spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(module_file))[0], os.path.join(app_root, module_file))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
registrations = func.registrations()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        for r in registrations:
            if path == "/api/" + r["route"] and "GET" in r["methods"]:
                resp = r["fn"](func.HttpRequest(method="GET", url=self.path, headers=dict(self.headers)))
                body = resp.get_body()
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                if resp.mimetype:
                    self.send_header("Content-Type", resp.mimetype + "; charset=" + resp.charset)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
regs = [{k: v for k, v in r.items() if k != "fn"} for r in registrations]
print(json.dumps({"port": server.server_address[1], "registrations": regs}), flush=True)
server.serve_forever()
