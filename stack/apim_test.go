package stack

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3"
)

// TestReusedServiceWarning: a reused service without a minimum API version of 2019-12-01 or
// later lets its readers read secret named values through older versions; the program warns,
// naming the service and what it sets, and says nothing when the service is safe.
func TestReusedServiceWarning(t *testing.T) {
	ptr := func(s string) *string { return &s }
	tests := []struct {
		name       string
		constraint *apimanagement.ApiVersionConstraintResponse
		want       string // "" for no warning
	}{
		{"no constraint", nil, `apimName "shared" sets no apiVersionConstraint.minApiVersion: anyone who can read the service, Reader included, can read its secret named values`},
		{"an empty constraint", &apimanagement.ApiVersionConstraintResponse{}, "sets no apiVersionConstraint.minApiVersion"},
		{"an older minimum", &apimanagement.ApiVersionConstraintResponse{MinApiVersion: ptr("2019-01-01")}, `apimName "shared" sets apiVersionConstraint.minApiVersion 2019-01-01: `},
		{"2019-12-01", &apimanagement.ApiVersionConstraintResponse{MinApiVersion: ptr("2019-12-01")}, ""},
		{"a later minimum", &apimanagement.ApiVersionConstraintResponse{MinApiVersion: ptr("2021-08-01")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reusedServiceWarning("shared", tt.constraint)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got != "" && !strings.Contains(got, "ask its owner to set minApiVersion 2019-12-01 or later") {
				t.Errorf("got %q, want the way out", got)
			}
		})
	}
}

func TestBackendURL(t *testing.T) {
	for prefix, want := range map[string]string{
		"api":          "https://app.azurewebsites.net/api",
		"":             "https://app.azurewebsites.net",
		"v1/functions": "https://app.azurewebsites.net/v1/functions",
	} {
		if got := BackendURL("app.azurewebsites.net", prefix); got != want {
			t.Errorf("routePrefix %q: got %s, want %s", prefix, got, want)
		}
	}
}
