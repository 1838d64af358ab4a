package stack

import (
	"regexp"
	"strings"
	"testing"
)

// TestAPIMIDsScopes: in a reused service every child id starts with a scope from apiPath; two
// different paths give two different scopes (so two stacks that APIM lets share a service never
// share an id), and every id stays within APIM's limits for any path the config accepts.
func TestAPIMIDsScopes(t *testing.T) {
	reused := func(path string) APIMIDs {
		return NewAPIMIDs(&Config{APIM: APIMConfig{ExistingName: "shared", ExistingResourceGroup: "rg"}, API: APIConfig{Path: path}})
	}
	if ids := NewAPIMIDs(&Config{API: APIConfig{Path: "orders"}}); ids.Scoped() || ids.Pool() != PoolID || ids.API() != APIID || ids.FunctionKey(Green) != "green-function-key" {
		t.Errorf("created service: got scoped=%v pool %s api %s key %s, want the plain ids", ids.Scoped(), ids.Pool(), ids.API(), ids.FunctionKey(Green))
	}
	long := strings.Repeat("a", 40) + "/" + strings.Repeat("b", 39)
	tests := []struct {
		path, scope string
	}{
		{"orders", "orders"},
		{"orders/v1", "orders.v1"},
		{"orders-v1", "orders-v1"},
		{"orders_v1", "orders_v1"},
		{long, ""}, // cut, with a hash
	}
	seen := map[string]string{}
	// APIM: a named value's display name is letters, digits, '-', '.' and '_'; backend ids are
	// at most 80 characters.
	displayName := regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			ids := reused(tt.path)
			if tt.scope != "" && ids.API() != tt.scope {
				t.Errorf("scope: got %s, want %s", ids.API(), tt.scope)
			}
			if other, dup := seen[strings.ToLower(ids.API())]; dup {
				t.Errorf("paths %q and %q share the scope %s", other, tt.path, ids.API())
			}
			seen[strings.ToLower(ids.API())] = tt.path
			for _, id := range []string{ids.Pool(), ids.Backend(Green), ids.Backend(Blue), ids.CurrentSlot(), ids.FunctionKey(Green), ids.FunctionKey(Blue), ids.PinToken(), ids.API()} {
				if !strings.HasPrefix(id, ids.API()) {
					t.Errorf("id %s does not start with the scope %s", id, ids.API())
				}
				if len(id) > 80 || !displayName.MatchString(id) {
					t.Errorf("id %q (%d characters) is not a valid APIM id and display name", id, len(id))
				}
			}
		})
	}
	if a, b := reused(long), reused(strings.Repeat("a", 40)+"/"+strings.Repeat("c", 39)); a.API() == b.API() {
		t.Errorf("two long paths sharing their first 40 characters got one scope %s", a.API())
	}
}
