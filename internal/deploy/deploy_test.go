package deploy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/slotless/slotless/internal/deploy/deploytest"
)

func writeZip(t *testing.T, files ...string) string {
	t.Helper()
	return deploytest.Zip(t, "", files...)
}

func TestCheckPackage(t *testing.T) {
	notZip := filepath.Join(t.TempDir(), "app.zip")
	if err := os.WriteFile(notZip, []byte("not a zip at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"a Functions package", writeZip(t, "host.json", "health/function.json"), ""},
		{"missing", filepath.Join(t.TempDir(), "none.zip"), "no such file"},
		{"a directory", t.TempDir(), "a directory"},
		{"not a zip", notZip, "not a zip archive"},
		{"host.json not at the root", writeZip(t, "app/host.json"), "no host.json at the root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckPackage(tt.path)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("CheckPackage: got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestRoutePrefix: a package's route prefix is host.json's extensions.http.routePrefix (keys in
// any case, slashes trimmed), the Functions host's "api" when it sets none; a package whose
// prefix is not the stack's is refused naming both, and one whose host.json's prefix cannot be
// read is let through with a warning.
func TestRoutePrefix(t *testing.T) {
	host := func(doc string) string {
		return deploytest.ZipFiles(t, "", map[string]string{"host.json": doc, "health/function.json": "{}"})
	}
	tests := []struct {
		name, hostJSON, stack string
		prefix                string
		refused, warned       string
	}{
		{"no http section", `{"version": "2.0"}`, "api", "api", "", ""},
		{"the sample's", `{"version": "2.0", "extensions": {"http": {"routePrefix": "api"}}}`, "api", "api", "", ""},
		{"empty", `{"extensions": {"http": {"routePrefix": ""}}}`, "", "", "", ""},
		{"keys in another case, slashes", `{"Extensions": {"HTTP": {"RoutePrefix": "/v1/fn/"}}}`, "v1/fn", "v1/fn", "", ""},
		{"empty, stack at the default", `{"extensions": {"http": {"routePrefix": ""}}}`, "api", "",
			`host.json's extensions.http.routePrefix is "", the stack's routePrefix is "api": API Management would send every request under /api, where this app serves nothing`, ""},
		{"the default, stack empty", `{"version": "2.0"}`, "", "api", `host.json's extensions.http.routePrefix is "api", the stack's routePrefix is ""`, ""},
		{"not a string", `{"extensions": {"http": {"routePrefix": 1}}}`, "api", "", "", "routePrefix cannot be read (extensions.http.routePrefix is 1, not a string)"},
		{"comments", "{\n  // the sample\n  \"version\": \"2.0\"\n}", "api", "", "", "routePrefix cannot be read (invalid character '/'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkg, err := CheckPackage(host(tt.hostJSON))
			if err != nil {
				t.Fatal(err)
			}
			if pkg.HostJSONErr == nil && pkg.RoutePrefix != tt.prefix {
				t.Errorf("route prefix: got %q, want %q", pkg.RoutePrefix, tt.prefix)
			}
			var warn bytes.Buffer
			err = pkg.CheckRoutePrefix(tt.stack, &warn)
			if (tt.refused == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.refused)) {
				t.Errorf("refusal: got %v, want %q", err, tt.refused)
			}
			if (tt.warned == "") != (warn.Len() == 0) || !strings.Contains(warn.String(), tt.warned) {
				t.Errorf("warning: got %q, want %q", warn.String(), tt.warned)
			}
		})
	}
}

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t0ken", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// deploymentHost scripts a deployment host: /api/publish answers publish, and each read of
// /api/deployments/latest takes the next answer, repeating the last.
type deploymentHost struct {
	mu       sync.Mutex
	publish  int
	answers  []string
	reads    int
	uploaded []byte
	auth     string
}

func (h *deploymentHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch r.URL.Path {
	case "/api/publish":
		h.auth = r.Header.Get("Authorization")
		h.uploaded, _ = io.ReadAll(r.Body)
		if r.URL.Query().Get("RemoteBuild") != "false" || r.Header.Get("Content-Type") != "application/zip" {
			http.Error(w, "want RemoteBuild=false and a zip", http.StatusBadRequest)
			return
		}
		w.WriteHeader(h.publish)
		_, _ = io.WriteString(w, `"dep-2"`)
	case "/api/deployments/latest":
		a := h.answers[min(h.reads, len(h.answers)-1)]
		h.reads++
		_, _ = io.WriteString(w, a)
	default:
		http.NotFound(w, r)
	}
}

func TestDeploy(t *testing.T) {
	pkg, err := CheckPackage(writeZip(t, "host.json", "health/function.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		publish int
		answers []string
		want    string // "" for success
	}{
		{"an earlier deployment first, then ours completes", 202,
			[]string{`{"id": "dep-1", "status": 4, "status_text": "done"}`, `{"id": "dep-2", "status": 1, "status_text": "Building"}`, `{"id": "dep-2", "status": 4, "status_text": "Success"}`}, ""},
		{"ours fails", 202, []string{`{"id": "dep-2", "status": 3, "status_text": "Failed"}`}, "the deployment failed (status 3 Failed)"},
		{"another deployment holds the app", 409, nil, "another deployment to this app is in progress"},
		{"never completes", 202, []string{`{"id": "dep-2", "status": 1, "status_text": "Building"}`}, "did not complete within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := &deploymentHost{publish: tt.publish, answers: tt.answers}
			srv := httptest.NewTLSServer(host)
			defer srv.Close()
			d := NewDeployer(staticToken{}, srv.URL, &policy.ClientOptions{Transport: srv.Client()})
			d.Poll = time.Millisecond
			if tt.want == "did not complete within" {
				d.Timeout = 50 * time.Millisecond
			}
			var progress bytes.Buffer
			err := d.Deploy(context.Background(), pkg, &progress)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Deploy: got %v, want %q\n%s", err, tt.want, progress.String())
			}
			if tt.publish == 202 {
				raw, _ := os.ReadFile(pkg.Path)
				if !bytes.Equal(host.uploaded, raw) || host.auth != "Bearer t0ken" {
					t.Errorf("upload: got %d bytes with %q, want the package's %d with the bearer token", len(host.uploaded), host.auth, len(raw))
				}
			}
			if tt.want == "" && !strings.Contains(progress.String(), "deployment dep-2: status 4 Success") {
				t.Errorf("progress: got\n%s\nwant the deployment's completion", progress.String())
			}
		})
	}
}
