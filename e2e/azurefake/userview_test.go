package azurefake

import (
	"net/http"
	"strings"
	"testing"
)

// TestUsersSawEveryWrite: with WatchUsers, the write that gives an app its authentication
// settings records what a request through the gateway gets right after it. Requiring the
// token once the gateway can get one answers 200; requiring it while Entra refuses the token
// answers every request 401 under ignore-error="true" (the failure the two phases avoid) and
// fails it at the gateway with Entra's reason under "false"; validating without requiring lets
// it through. Without WatchUsers nothing is recorded.
func TestUsersSawEveryWrite(t *testing.T) {
	observe := map[string]any{"requireAuthentication": false, "unauthenticatedClientAction": "AllowAnonymous"}
	require := map[string]any{"requireAuthentication": true, "unauthenticatedClientAction": "Return401"}
	for _, tt := range []struct {
		name, ignoreError string
		servicePrincipal  bool
		global            map[string]any
		watch             bool
		want              int
		reason            string
	}{
		{"require, token issued", "true", true, require, true, http.StatusOK, ""},
		{"require, no token, ignore-error true", "true", false, require, true, http.StatusUnauthorized, "no valid token"},
		{"require, no token, ignore-error false", "false", false, require, true, http.StatusInternalServerError, "AADSTS500011"},
		{"observe, no token", "true", false, observe, true, http.StatusOK, ""},
		{"not watched", "true", false, require, false, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, app := gatewayWorld(t, tt.ignoreError)
			if err := f.Store.Update(func(c *Cloud) error {
				if !tt.servicePrincipal {
					delete(c.ServicePrincipals, "aud-1")
				}
				c.WatchUsers = tt.watch
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			c, _ := f.Store.Load()
			clientID, _ := gatewayIdentity(t, c)
			gatewayAuth(t, f, app, clientID, tt.global)
			c, _ = f.Store.Load()
			if !tt.watch {
				if len(c.UsersSaw) != 0 {
					t.Fatalf("not watched: recorded %+v", c.UsersSaw)
				}
				return
			}
			if len(c.UsersSaw) != 1 {
				t.Fatalf("got %+v, want one answer, green's", c.UsersSaw)
			}
			got := c.UsersSaw[0]
			last := c.Calls[len(c.Calls)-1]
			if got.Call != len(c.Calls)-1 || last.Token != "azure-native:web:WebAppAuthSettingsV2" || got.App != "green" {
				t.Errorf("got %+v after call %d (%s), want green after the authentication write", got, len(c.Calls)-1, last.Token)
			}
			if got.Status != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("got %d %q, want %d %q", got.Status, got.Reason, tt.want, tt.reason)
			}
		})
	}
}
