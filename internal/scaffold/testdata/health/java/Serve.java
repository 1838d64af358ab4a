import com.microsoft.azure.functions.ExecutionContext;
import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.HttpStatus;
import com.microsoft.azure.functions.HttpStatusType;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import com.sun.net.httpserver.HttpServer;

import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Serves the HTTP triggers of one class as the Functions host does: each method annotated
 * with @FunctionName and an @HttpTrigger parameter at /api/<route>, for its methods, writing
 * the HttpResponseMessage's status, headers and body. Prints the port and the registrations
 * as one JSON line once it listens.
 *
 *   java -cp STUBS:APP.jar:. Serve CLASS
 */
public class Serve {
    record Registration(String name, String route, List<String> methods, String authLevel, Method method, Object target) {}

    public static void main(String[] args) throws Exception {
        Class<?> cls = Class.forName(args[0]);
        Object target = cls.getDeclaredConstructor().newInstance();
        List<Registration> regs = new ArrayList<>();
        for (Method m : cls.getMethods()) {
            FunctionName fn = m.getAnnotation(FunctionName.class);
            if (fn == null) {
                continue;
            }
            for (Annotation[] params : m.getParameterAnnotations()) {
                for (Annotation a : params) {
                    if (a instanceof HttpTrigger t) {
                        List<String> methods = new ArrayList<>();
                        for (HttpMethod hm : t.methods()) {
                            methods.add(hm.name());
                        }
                        String route = t.route().isEmpty() ? fn.value() : t.route();
                        regs.add(new Registration(fn.value(), route, methods, t.authLevel().name().toLowerCase(), m, target));
                    }
                }
            }
        }
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            String verb = exchange.getRequestMethod();
            for (Registration r : regs) {
                if (path.equals("/api/" + r.route()) && r.methods().contains(verb)) {
                    try {
                        HttpResponseMessage res = (HttpResponseMessage) r.method().invoke(r.target(), request(exchange.getRequestURI(), verb, headers(exchange)), context(r.name()));
                        byte[] body = String.valueOf(res.getBody()).getBytes(StandardCharsets.UTF_8);
                        ((Response) res).headers.forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
                        exchange.sendResponseHeaders(res.getStatusCode(), body.length);
                        exchange.getResponseBody().write(body);
                    } catch (Exception e) {
                        byte[] body = e.toString().getBytes(StandardCharsets.UTF_8);
                        exchange.sendResponseHeaders(500, body.length);
                        exchange.getResponseBody().write(body);
                    }
                    exchange.close();
                    return;
                }
            }
            exchange.sendResponseHeaders(404, -1);
            exchange.close();
        });
        server.start();
        StringBuilder json = new StringBuilder("{\"port\":" + server.getAddress().getPort() + ",\"registrations\":[");
        for (int i = 0; i < regs.size(); i++) {
            Registration r = regs.get(i);
            json.append(i > 0 ? "," : "").append("{\"name\":\"").append(r.name()).append("\",\"route\":\"").append(r.route())
                .append("\",\"authLevel\":\"").append(r.authLevel()).append("\",\"methods\":[");
            for (int j = 0; j < r.methods().size(); j++) {
                json.append(j > 0 ? "," : "").append('"').append(r.methods().get(j)).append('"');
            }
            json.append("]}");
        }
        System.out.println(json.append("]}"));
        System.out.flush();
    }

    static final class Response implements HttpResponseMessage {
        HttpStatusType status;
        final Map<String, String> headers = new LinkedHashMap<>();
        Object body;

        @Override
        public HttpStatusType getStatus() {
            return status;
        }

        @Override
        public String getHeader(String key) {
            return headers.get(key);
        }

        @Override
        public Object getBody() {
            return body;
        }
    }

    static HttpResponseMessage.Builder builder(HttpStatusType status) {
        Response r = new Response();
        r.status = status;
        return new HttpResponseMessage.Builder() {
            public HttpResponseMessage.Builder status(HttpStatusType s) {
                r.status = s;
                return this;
            }

            public HttpResponseMessage.Builder header(String k, String v) {
                r.headers.put(k, v);
                return this;
            }

            public HttpResponseMessage.Builder body(Object b) {
                r.body = b;
                return this;
            }

            public HttpResponseMessage build() {
                return r;
            }
        };
    }

    // headers are the request's, one value a name, with the names as the client sent them.
    static Map<String, String> headers(com.sun.net.httpserver.HttpExchange exchange) {
        Map<String, String> out = new LinkedHashMap<>();
        exchange.getRequestHeaders().forEach((k, v) -> out.put(k, v.get(0)));
        return out;
    }

    static HttpRequestMessage<Optional<String>> request(URI uri, String verb, Map<String, String> headers) {
        return new HttpRequestMessage<>() {
            public URI getUri() {
                return uri;
            }

            public HttpMethod getHttpMethod() {
                return HttpMethod.valueOf(verb);
            }

            public Map<String, String> getHeaders() {
                return headers;
            }

            public Map<String, String> getQueryParameters() {
                return Map.of();
            }

            public Optional<String> getBody() {
                return Optional.empty();
            }

            public HttpResponseMessage.Builder createResponseBuilder(HttpStatus status) {
                return builder(status);
            }

            public HttpResponseMessage.Builder createResponseBuilder(HttpStatusType status) {
                return builder(status);
            }
        };
    }

    static ExecutionContext context(String name) {
        return new ExecutionContext() {
            public Logger getLogger() {
                return Logger.getLogger(name);
            }

            public String getInvocationId() {
                return "test";
            }

            public String getFunctionName() {
                return name;
            }
        };
    }
}
