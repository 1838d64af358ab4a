package credential

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFederatedTokens(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/ado" && r.Method == http.MethodPost && r.Header.Get("Authorization") == "Bearer sys" &&
			r.URL.Query().Get("serviceConnectionId") == "sc" && r.URL.Query().Get("api-version") == "7.1":
			fmt.Fprint(w, `{"oidcToken":"ado-id"}`)
		case r.URL.Path == "/gh" && r.Method == http.MethodGet && r.Header.Get("Authorization") == "Bearer req" &&
			r.URL.Query().Get("audience") == federatedAudience && r.URL.Query().Get("x") == "1":
			fmt.Fprint(w, `{"value":"gh-id"}`)
		default:
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	if tok, err := adoIDToken(t.Context(), srv.Client(), srv.URL+"/ado", "sc", "sys"); err != nil || tok != "ado-id" {
		t.Errorf("azure pipelines: got %q, %v; want ado-id", tok, err)
	}
	if _, err := adoIDToken(t.Context(), srv.Client(), srv.URL+"/ado", "sc", "wrong"); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("azure pipelines with a bad token: got %v, want an error without the token", err)
	}
	if tok, err := githubIDToken(t.Context(), srv.Client(), srv.URL+"/gh?x=1", "req"); err != nil || tok != "gh-id" {
		t.Errorf("github: got %q, %v; want gh-id", tok, err)
	}

	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	ado := map[string]string{envADOOIDCURI: srv.URL + "/ado", envADOAccessToken: "sys", envADOConnection: "sc", envADOClientID: "c", envADOTenantID: "t"}
	if f, _ := ARMTokenRefresher(env(ado)); f != nil {
		t.Error("without ARM_USE_OIDC: got a refresher, want none (azure-native is not on OIDC)")
	}
	ado[envARMUseOIDC] = "true"
	f, _ := ARMTokenRefresher(env(ado))
	if f == nil {
		t.Fatal("on Azure Pipelines with ARM_USE_OIDC: got no refresher, want one")
	}
	if got, err := f(t.Context()); err != nil || got[envARMOIDCToken] != "ado-id" {
		t.Errorf("refresh: got %v, %v; want ARM_OIDC_TOKEN ado-id", got, err)
	}
	if f, _ := ARMTokenRefresher(env(map[string]string{envARMUseOIDC: "true", envGHRequestURL: srv.URL + "/gh", envGHRequestToken: "req"})); f != nil {
		t.Error("on GitHub: got a refresher, want none (azure-native requests the job's token itself)")
	}
	// azidentity reads the OIDC endpoint from the process environment itself.
	t.Setenv(envADOOIDCURI, srv.URL+"/ado")
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{ado, "Azure Pipelines"},
		{map[string]string{envGHRequestURL: srv.URL + "/gh", envGHRequestToken: "req", envARMClientID: "c", envARMTenantID: "t"}, "GitHub"},
		{map[string]string{}, "DefaultAzureCredential"},
	} {
		if _, name, err := Azure(env(tt.env)); err != nil || !strings.Contains(name, tt.want) {
			t.Errorf("credential for %v: got %q, %v; want %s", tt.env, name, err, tt.want)
		}
	}
}
