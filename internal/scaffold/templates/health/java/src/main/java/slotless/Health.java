// The health function slotless's gates, warm-up and probes reach each slot through: GET
// /api/health answers 200 with {"status": "ok", "slot", "version", "clientPrincipalId"} and the
// X-Slot header (the health contract in slotless's docs/bring-your-own-app.md). The slot is the
// SLOT_NAME app setting the stack gives each app; the version is the VERSION file the build
// writes into the package root, next to the app's jar, read once when the class loads;
// clientPrincipalId is the X-MS-CLIENT-PRINCIPAL-ID header App Service authentication set on
// this request (empty without), which slotless gateway-auth reads.
package slotless;

import com.microsoft.azure.functions.ExecutionContext;
import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.HttpStatus;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

public class Health {
    private static final String VERSION = readVersion();

    private static String readVersion() {
        try {
            Path jar = Path.of(Health.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return Files.readString(jar.resolveSibling("VERSION"), StandardCharsets.UTF_8).trim();
        } catch (Exception e) {
            // No VERSION (a build that did not stamp it): the gate says the version is missing.
            return "";
        }
    }

    @FunctionName("health")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.FUNCTION, route = "health")
            HttpRequestMessage<Optional<String>> request,
            final ExecutionContext context) {
        String slot = Optional.ofNullable(System.getenv("SLOT_NAME")).orElse("");
        String principal = "";
        for (var h : request.getHeaders().entrySet()) {
            if (h.getKey().equalsIgnoreCase("x-ms-client-principal-id")) {
                principal = h.getValue();
            }
        }
        String body = "{\"status\":\"ok\",\"slot\":" + json(slot) + ",\"version\":" + json(VERSION)
                + ",\"clientPrincipalId\":" + json(principal) + "}";
        return request.createResponseBuilder(HttpStatus.OK)
                .header("Content-Type", "application/json")
                .header("X-Slot", slot)
                .header("X-Version", VERSION)
                .body(body)
                .build();
    }

    // json quotes s as a JSON string: a quote, a backslash or a control character in the slot
    // or the version must not break the body.
    private static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
