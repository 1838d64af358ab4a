# The health function slotless's gates, warm-up and probes reach each slot through: GET
# /api/health answers 200 with {"status": "ok", "slot", "version", "clientPrincipalId"} and the
# X-Slot header (the health contract in slotless's docs/bring-your-own-app.md). The slot is the
# SLOT_NAME app setting the stack gives each app; the version is the VERSION file the build
# writes into the package root, the folder above this function's; clientPrincipalId is the
# X-MS-CLIENT-PRINCIPAL-ID header App Service authentication set on this request (empty
# without), which slotless gateway-auth reads.
using namespace System.Net

param($Request, $TriggerMetadata)

$versionFile = Join-Path (Split-Path -Parent $PSScriptRoot) 'VERSION'
# No VERSION (a build that did not stamp it): the gate says the version is missing.
$version = if (Test-Path $versionFile) { (Get-Content -Raw $versionFile).Trim() } else { '' }
$slot = if ($env:SLOT_NAME) { $env:SLOT_NAME } else { '' }
$principal = if ($Request.Headers['x-ms-client-principal-id']) { $Request.Headers['x-ms-client-principal-id'] } else { '' }

Push-OutputBinding -Name Response -Value ([HttpResponseContext]@{
    StatusCode  = [HttpStatusCode]::OK
    Headers     = @{ 'X-Slot' = $slot; 'X-Version' = $version }
    ContentType = 'application/json'
    Body        = (@{ status = 'ok'; slot = $slot; version = $version; clientPrincipalId = $principal } | ConvertTo-Json -Compress)
})
