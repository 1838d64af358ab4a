package watcher

import (
	"context"
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
)

// scopes records the scopes a client asks its credential for, and refuses, so nothing is sent.
type scopes struct{ asked []string }

func (s *scopes) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s.asked = append(s.asked, o.Scopes...)
	return azcore.AccessToken{}, errors.New("no token here")
}

// TestLogsClientAudience: the watcher asks its identity for a token of the query API it calls:
// Azure's public one by default, the endpoint's origin for a sovereign cloud's endpoint, and
// SLOTLESS_LOGS_AUDIENCE when the endpoint stands in for another's.
func TestLogsClientAudience(t *testing.T) {
	for _, tt := range []struct{ name, endpoint, audience, want string }{
		{"public cloud", "", "", "https://api.loganalytics.io/.default"},
		{"sovereign endpoint", "https://api.loganalytics.us/v1", "", "https://api.loganalytics.us/.default"},
		{"endpoint and audience", "https://127.0.0.1:9/v1", "https://api.loganalytics.io", "https://api.loganalytics.io/.default"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cred := &scopes{}
			c, err := logsClient(cred, tt.endpoint, tt.audience)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.QueryWorkspace(context.Background(), "ws", azquery.Body{Query: new(string)}, nil)
			if len(cred.asked) == 0 || cred.asked[0] != tt.want {
				t.Errorf("asked for %v, want %s", cred.asked, tt.want)
			}
		})
	}
}
