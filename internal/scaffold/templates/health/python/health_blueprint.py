"""The health function slotless's gates, warm-up and probes reach each slot through.

GET /api/health answers 200 with {"status": "ok", "slot", "version", "clientPrincipalId"} and the
X-Slot header (the health contract in slotless's docs/bring-your-own-app.md). The slot is the
SLOT_NAME app setting the stack gives each app; the version is the VERSION file the build writes
into the package root, next to this file, read once when the worker imports it;
clientPrincipalId is the X-MS-CLIENT-PRINCIPAL-ID header App Service authentication set on this
request (empty without), which slotless gateway-auth reads. Register it in function_app.py:

    from health_blueprint import bp as health_bp
    app.register_functions(health_bp)
"""

import json
import os

import azure.functions as func

bp = func.Blueprint()


def _read_version() -> str:
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION"), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        # No VERSION (a build that did not stamp it): the gate says the version is missing.
        return ""


VERSION = _read_version()


@bp.function_name(name="health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    slot = os.environ.get("SLOT_NAME", "")
    principal = req.headers.get("x-ms-client-principal-id", "")
    return func.HttpResponse(
        json.dumps({"status": "ok", "slot": slot, "version": VERSION, "clientPrincipalId": principal}),
        status_code=200,
        mimetype="application/json",
        headers={"X-Slot": slot, "X-Version": VERSION},
    )
