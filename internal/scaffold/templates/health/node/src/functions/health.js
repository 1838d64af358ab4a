// The health function slotless's gates, warm-up and probes reach each slot through: GET
// /api/health answers 200 with {"status": "ok", "slot", "version", "clientPrincipalId"} and the
// X-Slot header (the health contract in slotless's docs/bring-your-own-app.md). The slot is the
// SLOT_NAME app setting the stack gives each app; the version is the VERSION file the build
// writes into the package root, two folders up from this one, read once when the worker loads
// it; clientPrincipalId is the X-MS-CLIENT-PRINCIPAL-ID header App Service authentication set
// on this request (empty without), which slotless gateway-auth reads.
const fs = require('node:fs');
const path = require('node:path');
const { app } = require('@azure/functions');

const version = readVersion();

function readVersion() {
  try {
    return fs.readFileSync(path.join(__dirname, '..', '..', 'VERSION'), 'utf8').trim();
  } catch {
    // No VERSION (a build that did not stamp it): the gate says the version is missing.
    return '';
  }
}

app.http('health', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'health',
  handler: async (request) => {
    const slot = process.env.SLOT_NAME || '';
    const clientPrincipalId = request.headers.get('x-ms-client-principal-id') || '';
    return {
      status: 200,
      headers: { 'X-Slot': slot, 'X-Version': version },
      jsonBody: { status: 'ok', slot, version, clientPrincipalId },
    };
  },
});
