package stack

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestGuardedHostAccount: a slot's host storage moves only while it carries no traffic; where
// it is now is told by the tags of the key API Management holds for it, a key from before host
// tags having come from the shared account.
func TestGuardedHostAccount(t *testing.T) {
	notFound := errors.New(`Status=404 Code="ResourceNotFound" Message="named value not found"`)
	tests := []struct {
		name       string
		namedValue error
		heldTags   []string
		target     string
		blueWeight int
		// deployedBlue and poolBlue, when set, are blue's share in the last update and in the
		// pool API Management holds.
		deployedBlue, poolBlue *int
		want                   string
		wantErr                []string
	}{
		{"a new slot goes straight to its own account", notFound, nil, "hostgreen1", 0, nil, nil, "hostgreen1", nil},
		{"a live slot already in its own account stays", nil, []string{"app", "host-hostgreen1"}, "hostgreen1", 0, nil, nil, "hostgreen1", nil},
		{"a live slot still on the shared account stays there while listed", nil, []string{"app"}, "storage1", 0, nil, nil, "storage1", nil},
		{"an idle slot moves to its own account", nil, []string{"app"}, "hostgreen1", 100, ptr(100), ptr(100), "hostgreen1", nil},
		{"a live slot with a key from before host tags does not move", nil, []string{"app"}, "hostgreen1", 0, nil, nil, "",
			[]string{"sharedHostStorage: green carries 100% of traffic", "the shared account storage1", "its own account hostgreen1", "401", "pulumi config set --path 'sharedHostStorage[0]' green"}},
		{"a slot with 10% does not move either", nil, []string{"app", "host-storage1"}, "hostgreen1", 90, nil, nil, "",
			[]string{"green carries 10% of traffic"}},
		{"a live slot does not move back to the shared account", nil, []string{"app", "host-hostgreen1"}, "storage1", 0, nil, nil, "",
			[]string{"keeps its keys in its own account hostgreen1", "to the shared account storage1", "take green out of sharedHostStorage"}},
		// The config says green is idle, but users are on it.
		{"a stale checkout's idle slot that the last update left live", nil, []string{"app"}, "hostgreen1", 100, ptr(50), ptr(100), "",
			[]string{"green carries 50% of traffic (in the last update)"}},
		{"a break-glass rollback nobody recorded", nil, []string{"app"}, "hostgreen1", 100, ptr(100), ptr(0), "",
			[]string{"green carries 100% of traffic (in the pool as API Management holds it)"}},
		{"API Management fails otherwise: no guess", errors.New(`Status=500 Code="InternalServerError"`), nil, "hostgreen1", 0, nil, nil, "", []string{"host storage of green: read named value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &keyMocks{namedValue: tt.namedValue, heldTags: tt.heldTags, poolBlue: tt.poolBlue}
			cfg := &Config{Weights: Weights{Green: 100 - tt.blueWeight, Blue: tt.blueWeight}}
			var deployed *Weights
			if tt.deployedBlue != nil {
				deployed = &Weights{Green: 100 - *tt.deployedBlue, Blue: *tt.deployedBlue}
			}
			var got string
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				svc := apimService{Name: pulumi.String("apim").ToStringOutput(), ResourceGroup: pulumi.String("rg")}
				account := guardedHostAccount(ctx, Green, cfg, deployed, pulumi.String(tt.target).ToStringOutput(), pulumi.String("storage1").ToStringOutput(), svc, "green-function-key", PoolID)
				ctx.Export("account", account.ApplyT(func(a string) string { got = a; return a }))
				return nil
			}, pulumi.WithMocks("slotless", "test", m))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want account %s", err, tt.want)
				}
				if got != tt.want {
					t.Errorf("account: got %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got account %q, want an error", got)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func ptr(n int) *int { return &n }

func TestKeyHostAccount(t *testing.T) {
	for _, tt := range []struct {
		tags []string
		want string
	}{
		{nil, "shared"},
		{[]string{"green-app1"}, "shared"},
		{[]string{"green-app1", "host-hostgreen1"}, "hostgreen1"},
		{[]string{"host-storage1", "green-app1"}, "storage1"},
	} {
		if got := keyHostAccount(tt.tags, "shared"); got != tt.want {
			t.Errorf("keyHostAccount(%v): got %q, want %q", tt.tags, got, tt.want)
		}
	}
}
