// Loads one function file of a v4 programming model app, with the @azure/functions stand-in in
// the app's node_modules, and serves its HTTP triggers as the Functions host does: at
// /api/<route>, for the registered methods, turning the handler's HttpResponseInit (status,
// headers, body or jsonBody) into the response. Prints the port and the registrations as one
// JSON line once it listens.
//
//   node serve.js APP_ROOT FILE
const http = require('node:http');
const path = require('node:path');

const [appRoot, file] = process.argv.slice(2);
const target = path.resolve(appRoot, file);
require(target);
const { registrations } = require(require.resolve('@azure/functions', { paths: [path.dirname(target)] }));

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const reg = registrations.find(
    (r) => url.pathname === '/api/' + (r.options.route ?? r.name) && (r.options.methods ?? ['GET', 'POST']).includes(req.method),
  );
  if (!reg) {
    res.writeHead(404);
    res.end();
    return;
  }
  try {
    const out = (await reg.options.handler({ method: req.method, url: url.href, headers: new Headers(req.headers) }, { log() {} })) ?? {};
    const headers = { ...(out.headers ?? {}) };
    let body = out.body ?? '';
    if (out.jsonBody !== undefined) {
      body = JSON.stringify(out.jsonBody);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = 'application/json';
      }
    }
    res.writeHead(out.status ?? 200, headers);
    res.end(body);
  } catch (err) {
    res.writeHead(500);
    res.end(String(err));
  }
});

server.listen(0, '127.0.0.1', () => {
  const regs = registrations.map((r) => ({
    name: r.name,
    methods: r.options.methods,
    route: r.options.route,
    authLevel: r.options.authLevel,
  }));
  console.log(JSON.stringify({ port: server.address().port, registrations: regs }));
});
