package apiurl

import (
	"errors"
	"strings"
	"testing"
)

// TestCheck: https anywhere; plain http only to the machine itself; anything else is refused
// naming the source, the value and what is allowed.
func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name, raw string
		want      string // "" when allowed
	}{
		{"the gateway over https", "https://apim1.azure-api.net/orders", ""},
		{"https on another port", "https://gw.example.com:8443/orders", ""},
		{"a local test server", "http://127.0.0.1:39211/orders", ""},
		{"anywhere in 127.0.0.0/8", "http://127.8.9.10/orders", ""},
		{"IPv6 loopback", "http://[::1]:8080/orders", ""},
		{"localhost", "http://localhost:7071/api", ""},
		{"a localhost subdomain", "http://api.localhost:7071/api", ""},
		{"plain http to the gateway", "http://apim1.azure-api.net/orders", `--api-url: "http://apim1.azure-api.net/orders" is plain http to apim1.azure-api.net, which would carry the pinning token and the subscription key in clear; want an absolute https URL, or http to a loopback address`},
		{"plain http to a private address", "http://10.0.0.4/orders", "is plain http to 10.0.0.4"},
		{"a name that only starts like localhost", "http://localhost.example.com/orders", "is plain http to localhost.example.com"},
		{"another address that only looks local", "http://0.0.0.0:8080/orders", "is plain http to 0.0.0.0"},
		{"no scheme", "apim1.azure-api.net/orders", "is not an absolute http or https URL"},
		{"another scheme", "ftp://apim1.azure-api.net/orders", "is not an absolute http or https URL"},
		{"no host", "https:///orders", "is not an absolute http or https URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAPI("--api-url", tt.raw)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want allowed", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), Allowed) {
				t.Fatalf("got %v, want an *Error with %q and what is allowed", err, tt.want)
			}
		})
	}
}

// TestErrorsHideQueries: a refused URL is printed without its query or user information, where
// a function key or a password may be.
func TestErrorsHideQueries(t *testing.T) {
	err := Check("--url", "http://user:pw@app1.azurewebsites.net/api/health?code=SECRET", "the function key")
	if err == nil || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "pw") || !strings.Contains(err.Error(), "http://app1.azurewebsites.net/api/health (query and user left out)") {
		t.Fatalf("got %v, want the URL without its query and user", err)
	}
}

// TestResolve: the flag, else the environment, else the stack output, naming which.
func TestResolve(t *testing.T) {
	for _, tt := range []struct{ flag, env, output, want, source string }{
		{"https://f", "https://e", "https://o", "https://f", SourceFlag},
		{"", "https://e", "https://o", "https://e", SourceEnv},
		{"", "", "https://o", "https://o", SourceOutput},
		{"", "", "", "", ""},
	} {
		if got, source := Resolve(tt.flag, tt.env, tt.output); got != tt.want || source != tt.source {
			t.Errorf("Resolve(%q, %q, %q): got %q from %q, want %q from %q", tt.flag, tt.env, tt.output, got, source, tt.want, tt.source)
		}
	}
}
