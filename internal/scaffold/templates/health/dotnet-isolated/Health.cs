// The health function slotless's gates, warm-up and probes reach each slot through: GET
// /api/health answers 200 with {"status": "ok", "slot", "version", "clientPrincipalId"} and the
// X-Slot header (the health contract in slotless's docs/bring-your-own-app.md). The slot is the
// SLOT_NAME app setting the stack gives each app; the version is the VERSION file the build
// writes into the package root, the folder of the app's assembly. A file and not -p:Version:
// the pipelines' versions (v1.2.0, run42.abc1234) are not valid .NET version strings.
// clientPrincipalId is the X-MS-CLIENT-PRINCIPAL-ID header App Service authentication set on
// this request (empty without), which slotless gateway-auth reads.
using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading.Tasks;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

public class Health
{
    static readonly string Version = ReadVersion();

    static string ReadVersion()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "VERSION");
        // No VERSION (a build that did not stamp it): the gate says the version is missing.
        return File.Exists(path) ? File.ReadAllText(path).Trim() : "";
    }

    [Function("health")]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "health")] HttpRequestData req)
    {
        var slot = Environment.GetEnvironmentVariable("SLOT_NAME") ?? "";
        var clientPrincipalId = req.Headers.TryGetValues("X-MS-CLIENT-PRINCIPAL-ID", out var values) ? values.First() : "";
        var res = req.CreateResponse(HttpStatusCode.OK);
        res.Headers.Add("X-Slot", slot);
        res.Headers.Add("X-Version", Version);
        await res.WriteAsJsonAsync(new { status = "ok", slot, version = Version, clientPrincipalId });
        return res;
    }
}
