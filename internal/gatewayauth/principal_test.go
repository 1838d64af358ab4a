package gatewayauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slotless/slotless/stack"
)

// TestPrincipalProbe: the probe goes to the health operation through the gateway, pinned to
// the slot with the pinning token, marked slotless-probe=1, with the gateway's own headers; a
// slot passes when its answer names the gateway's principal, and each other answer fails
// saying what the slot saw and where to look.
func TestPrincipalProbe(t *testing.T) {
	const gw, audience = "0d7c2b1a-0000-4000-8000-000000000001", "5f0c2b1a-8e7d-4c6b-9a5f-4e3d2c1b0a9f"
	for _, tt := range []struct {
		name    string
		status  int
		body    string
		wantErr []string
	}{
		{"sees the gateway", 200, `{"status":"ok","slot":"blue","version":"1.1.0","clientPrincipalId":"` + strings.ToUpper(gw) + `"}`, nil},
		{"sees no principal", 200, `{"status":"ok","slot":"blue","version":"1.1.0","clientPrincipalId":""}`, []string{"blue: its app saw no principal", "az ad sp create --id " + audience, "AADSTS500011"}},
		{"a health function from before the field", 200, `{"status":"ok","slot":"blue","version":"1.1.0"}`, []string{"its health answer has no clientPrincipalId", "docs/bring-your-own-app.md"}},
		{"another principal", 200, `{"status":"ok","slot":"blue","clientPrincipalId":"someone"}`, []string{"its app saw principal someone, not the gateway identity's " + gw}},
		{"not pinned", 200, `{"status":"ok","slot":"green","clientPrincipalId":"` + gw + `"}`, []string{`the answer came from "green", not blue`}},
		{"the gateway fails", 500, `{"statusCode":500,"message":"Internal server error"}`, []string{"answered 500 through API Management", "az ad sp show --id " + audience}},
		{"refused by the app", 401, ``, []string{"answered 401 through API Management, want 200"}},
		{"redirected", 302, ``, []string{"answered 302"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Clone(context.Background())
				if tt.status == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			p := Probe{HealthURL: srv.URL + "/orders/health", Headers: map[string]string{"Ocp-Apim-Subscription-Key": "sub-key"}, PinToken: "pin-token"}
			seen, err := p.Ask(context.Background(), stack.Blue)
			if err != nil {
				t.Fatal(err)
			}
			if got.URL.Path != "/orders/health" || got.URL.Query().Get("slotless-probe") != "1" || got.Header.Get("X-Slotless-Slot") != "blue" ||
				got.Header.Get("X-Slotless-Token") != "pin-token" || got.Header.Get("Ocp-Apim-Subscription-Key") != "sub-key" {
				t.Errorf("sent %s %v, want the pinned health request marked as a probe", got.URL, got.Header)
			}
			err = seen.Judge(gw, audience)
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("got %v, want the slot to see the gateway", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want an error with %q", err, w)
				}
			}
			if len(tt.wantErr) > 0 && !errors.Is(err, ErrNotSeen) {
				t.Errorf("got %v, want ErrNotSeen", err)
			}
		})
	}
}

// TestFromOutputs: the deployed phase, audience and principal come from the stack's outputs; a
// stack whose last update predates the phase, or one missing the gateway's outputs, is an error.
func TestFromOutputs(t *testing.T) {
	for _, tt := range []struct {
		name    string
		outs    map[string]any
		want    Deployed
		wantErr string
	}{
		{"off", map[string]any{"gatewayAuthPhase": "off"}, Deployed{Phase: stack.AuthOff}, ""},
		{"require", map[string]any{"gatewayAuthPhase": "require", "gatewayAudience": "aud", "gatewayPrincipalId": "p"}, Deployed{Phase: stack.AuthRequire, Audience: "aud", Principal: "p"}, ""},
		{"predates the phase", map[string]any{"apiUrl": "https://x"}, Deployed{}, "the stack has no gatewayAuthPhase output"},
		{"observe without a principal", map[string]any{"gatewayAuthPhase": "observe", "gatewayAudience": "aud"}, Deployed{}, "has no gatewayAudience or gatewayPrincipalId output"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromOutputs(tt.outs)
			if got != tt.want || tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %+v, %v; want %+v, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
