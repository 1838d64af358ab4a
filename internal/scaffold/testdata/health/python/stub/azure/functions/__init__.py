"""A stand-in for azure.functions (the v2 programming model) with only what a blueprint uses when
it is imported: Blueprint and its route and function_name decorators, AuthLevel, HttpRequest and
HttpResponse (body, status_code, headers, mimetype, charset, get_body), a request's headers read
case-insensitively as the library's HttpRequestHeaders are. The decorators record
each function, so the test server can call it as the Functions host calls an HTTP trigger.
"""

import enum

_functions = []


class AuthLevel(str, enum.Enum):
    FUNCTION = "function"
    ANONYMOUS = "anonymous"
    ADMIN = "admin"


class HttpRequest:
    def __init__(self, method, url, headers=None, params=None, route_params=None, body=b""):
        self.method = method
        self.url = url
        self.headers = _Headers(headers or {})
        self.params = dict(params or {})
        self.route_params = dict(route_params or {})
        self._body = body

    def get_body(self):
        return self._body


class _Headers(dict):
    """A request's headers, by lower-cased name."""

    def __init__(self, headers):
        super().__init__({k.lower(): v for k, v in headers.items()})

    def get(self, key, default=None):
        return super().get(key.lower(), default)


class HttpResponse:
    def __init__(self, body=None, *, status_code=None, headers=None, mimetype=None, charset=None):
        if isinstance(body, str):
            body = body.encode(charset or "utf-8")
        self._body = body or b""
        self.status_code = status_code or 200
        self.headers = dict(headers or {})
        self.mimetype = mimetype
        self.charset = charset or "utf-8"

    def get_body(self):
        return self._body


class Blueprint:
    def __init__(self, http_auth_level=AuthLevel.FUNCTION):
        self.http_auth_level = AuthLevel(http_auth_level)

    def _entry(self, fn):
        for e in _functions:
            if e["fn"] is fn:
                return e
        e = {"fn": fn, "name": fn.__name__, "route": fn.__name__, "methods": ["GET", "POST"], "authLevel": self.http_auth_level.value}
        _functions.append(e)
        return e

    def route(self, route=None, trigger_arg_name="req", binding_arg_name="$return", methods=None, auth_level=None, **kwargs):
        def decorate(fn):
            e = self._entry(fn)
            e["route"] = route or fn.__name__
            if methods is not None:
                e["methods"] = [str(m).upper() for m in methods]
            if auth_level is not None:
                e["authLevel"] = AuthLevel(auth_level).value
            return fn

        return decorate

    def function_name(self, name, **kwargs):
        def decorate(fn):
            self._entry(fn)["name"] = name
            return fn

        return decorate


def registrations():
    return list(_functions)
