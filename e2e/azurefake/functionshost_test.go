package azurefake

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// The custom handler these tests run is this test binary itself, started by the package's
// handler.sh in the mode testHandlerEnv selects: it tells the test's recorder of each
// invocation (the request, and what it sees of its environment), waits for its answer, and
// answers the host as a custom handler does.
const testHandlerEnv = "AZUREFAKE_TEST_HANDLER"

func TestMain(m *testing.M) {
	if os.Getenv(testHandlerEnv) == "1" {
		serveTestHandler()
		return
	}
	os.Exit(m.Run())
}

func serveTestHandler() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tick", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen := map[string]string{}
		for _, k := range []string{"WATCH_SCHEDULE", "FUNCTIONS_CUSTOMHANDLER_PORT", "PLATFORM", "AZUREFAKE_LEAK", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"} {
			seen[k] = os.Getenv(k)
		}
		doc, _ := json.Marshal(map[string]any{"request": json.RawMessage(body), "env": seen})
		resp, err := http.Post(os.Getenv("RECORD_URL"), "application/json", bytes.NewReader(doc))
		if err != nil || resp.StatusCode != http.StatusOK {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"Outputs":{},"Logs":["the recorder failed"],"ReturnValue":null}`))
			return
		}
		resp.Body.Close()
		_, _ = w.Write([]byte(`{"Outputs":{},"Logs":["ran"],"ReturnValue":{"ok":true}}`))
	})
	_ = http.ListenAndServe("127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), mux)
}

// recorder keeps what the handler told it; hold, while set, holds each report unanswered
// until the test lets go, so an execution runs as long as the test says.
type recorder struct {
	mu      sync.Mutex
	got     []recorded
	active  int
	maxBusy int
	hold    chan struct{}
	arrived chan struct{}
}

type recorded struct {
	Request struct {
		Data     map[string]TimerInfo
		Metadata map[string]map[string]string
	}
	Env map[string]string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var doc recorded
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &doc); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.got = append(rc.got, doc)
	rc.active++
	rc.maxBusy = max(rc.maxBusy, rc.active)
	hold := rc.hold
	rc.mu.Unlock()
	rc.arrived <- struct{}{}
	if hold != nil {
		<-hold
	}
	rc.mu.Lock()
	rc.active--
	rc.mu.Unlock()
}

// handlerApp is a cloud with a function app whose user-assigned identity is attached, its
// settings, and a deployed package: a custom handler with the timer function tick.
func handlerApp(t *testing.T, schedule string, useMonitor *bool) (*Store, *recorder, string) {
	t.Helper()
	store := &Store{Path: filepath.Join(t.TempDir(), "cloud.json")}
	rc := &recorder{arrived: make(chan struct{}, 64)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	t.Setenv("AZUREFAKE_LEAK", "the test's own environment")
	var clientID string
	if err := store.Update(func(c *Cloud) error {
		mi := &Resource{ID: "/subscriptions/" + sub1 + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/watcher-id",
			Token: "azure-native:managedidentity:UserAssignedIdentity", Subscription: sub1, Inputs: map[string]any{}, Properties: map[string]any{}}
		computeOnCreate(mi, mi.Inputs)
		c.Put(mi)
		clientID, _ = mi.Properties["clientId"].(string)
		other := &Resource{ID: "/subscriptions/" + sub1 + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other-id",
			Token: "azure-native:managedidentity:UserAssignedIdentity", Subscription: sub1, Inputs: map[string]any{}, Properties: map[string]any{"clientId": "other-client", "principalId": "other-principal"}}
		c.Put(other)
		settings := []any{
			map[string]any{"name": "WATCH_SCHEDULE", "value": schedule},
			map[string]any{"name": "RECORD_URL", "value": srv.URL},
			map[string]any{"name": testHandlerEnv, "value": "1"},
			map[string]any{"name": "TEST_BINARY", "value": os.Args[0]},
		}
		c.Put(&Resource{ID: "/subscriptions/" + sub1 + "/resourceGroups/rg/providers/Microsoft.Web/sites/watcher-app", Token: "azure-native:web:WebApp", Subscription: sub1,
			Inputs: map[string]any{"name": "watcher-app", "identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": []any{mi.ID}},
				"siteConfig": map[string]any{"appSettings": settings}}, Properties: map[string]any{}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	binding := map[string]any{"name": "timer", "type": "timerTrigger", "direction": "in", "schedule": "%WATCH_SCHEDULE%"}
	if useMonitor != nil {
		binding["useMonitor"] = *useMonitor
	}
	fn, _ := json.Marshal(map[string]any{"bindings": []any{binding}})
	host, _ := json.Marshal(map[string]any{"version": "2.0", "customHandler": map[string]any{"description": map[string]any{
		"defaultExecutablePath": "handler.sh", "arguments": []string{"serve"}}, "enableForwardingHttpRequest": false}})
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode os.FileMode
		body []byte
	}{{"host.json", 0o644, host}, {"tick/function.json", 0o644, fn}, {"handler.sh", 0o755, []byte("#!/bin/sh\nexec \"$TEST_BINARY\" \"$@\"\n")}} {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		h.SetMode(f.mode)
		w, _ := z.CreateHeader(h)
		_, _ = w.Write(f.body)
	}
	_ = z.Close()
	if err := store.keepPackage("watcher-app", buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	return store, rc, clientID
}

func startHost(t *testing.T, store *Store, at time.Time) *FunctionsHost {
	t.Helper()
	h := NewFunctionsHost(store, "watcher-app", at, map[string]string{"PLATFORM": "stand-in endpoints"}, t.TempDir())
	t.Cleanup(h.Stop)
	return h
}

// TestFunctionsHostRunsTheCustomHandler: the deployed package's executable runs with the app's
// settings and the platform's environment and nothing of the caller's, on the port it is told;
// each invocation is POST /<function> with the timer under its binding's name and the sys
// metadata, and the handler's Logs and ReturnValue come back.
func TestFunctionsHostRunsTheCustomHandler(t *testing.T) {
	store, rc, _ := handlerApp(t, "0 */1 * * * *", nil)
	t0 := time.Date(2026, 12, 7, 3, 15, 20, 0, time.UTC)
	h := startHost(t, store, t0)
	e, err := h.Fire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !e.Succeeded() || strings.Join(e.Logs, ",") != "ran" || string(e.ReturnValue) != `{"ok":true}` {
		t.Fatalf("execution %+v", e)
	}
	if want := time.Date(2026, 12, 7, 3, 16, 0, 0, time.UTC); !e.At.Equal(want) || !h.Now().Equal(want) {
		t.Errorf("ran at %s, clock %s; want the next occurrence %s", e.At, h.Now(), want)
	}
	got := rc.got[0]
	env := got.Env
	if env["WATCH_SCHEDULE"] != "0 */1 * * * *" || env["PLATFORM"] != "stand-in endpoints" || env["FUNCTIONS_CUSTOMHANDLER_PORT"] == "" {
		t.Errorf("the handler's environment: %v", env)
	}
	if env["AZUREFAKE_LEAK"] != "" {
		t.Errorf("the handler sees the test's own environment: %v", env)
	}
	if env["IDENTITY_ENDPOINT"] == "" || env["IDENTITY_HEADER"] == "" {
		t.Errorf("an app with a user-assigned identity gets no identity endpoint: %v", env)
	}
	if _, ok := got.Request.Data["timer"]; !ok || got.Request.Metadata["sys"]["MethodName"] != "tick" {
		t.Errorf("the request: %+v", got.Request)
	}
}

// TestTimerSchedule: occurrences on the test's clock, as the timer listener fires them: the
// next occurrence each Fire; after occurrences missed while the app was down, one catch-up run
// marked IsPastDue with the monitor, none without it (the missed ones are lost); ScheduleStatus
// only with the monitor, which defaults on for schedules of a minute or more.
func TestTimerSchedule(t *testing.T) {
	on, off := true, false
	t0 := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	type want struct {
		at      time.Time
		pastDue bool
	}
	for _, tt := range []struct {
		name     string
		schedule string
		monitor  *bool
		steps    []int // >0: Fire; <0: Miss(-n)
		want     []want
		status   bool
	}{
		{"monitored: one catch-up after three missed", "*/10 * * * * *", &on, []int{1, 1, -3, 1, 1},
			[]want{{at(10), false}, {at(20), false}, {at(50), true}, {at(60), false}}, true},
		{"unmonitored: the missed are lost", "*/10 * * * * *", &off, []int{1, -3, 1},
			[]want{{at(10), false}, {at(50), false}}, false},
		{"more than once a minute: unmonitored by default", "*/10 * * * * *", nil, []int{1, -2, 1},
			[]want{{at(10), false}, {at(40), false}}, false},
		{"every minute: monitored by default", "0 */1 * * * *", nil, []int{1, -2, 1},
			[]want{{at(60), false}, {at(180), true}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, rc, _ := handlerApp(t, tt.schedule, tt.monitor)
			h := startHost(t, store, t0)
			var got []want
			for _, s := range tt.steps {
				if s < 0 {
					h.Miss(-s)
					continue
				}
				e, err := h.Fire(context.Background())
				if err != nil || !e.Succeeded() {
					t.Fatalf("fire: %v %+v", err, e)
				}
				got = append(got, want{e.At, e.Timer.IsPastDue})
				if (e.Timer.ScheduleStatus != nil) != tt.status {
					t.Errorf("ScheduleStatus %+v, want present %v", e.Timer.ScheduleStatus, tt.status)
				}
			}
			if len(got) != len(tt.want) || len(rc.got) != len(tt.want) {
				t.Fatalf("executions %v (%d reached the handler), want %v", got, len(rc.got), tt.want)
			}
			for i := range got {
				if !got[i].at.Equal(tt.want[i].at) || got[i].pastDue != tt.want[i].pastDue {
					t.Errorf("execution %d: %v, want %v", i, got[i], tt.want[i])
				}
				if sent := rc.got[i].Request.Data["timer"]; sent.IsPastDue != tt.want[i].pastDue {
					t.Errorf("execution %d: the handler got IsPastDue %v", i, sent.IsPastDue)
				}
			}
		})
	}
}

// TestTimerOneExecutionAtATime: occurrences that come due while an execution runs (held by
// the test) do not run beside it: they collapse into one execution that starts when it ends,
// with IsPastDue false, and the handler never sees two at once.
func TestTimerOneExecutionAtATime(t *testing.T) {
	store, rc, _ := handlerApp(t, "*/10 * * * * *", nil)
	t0 := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	h := startHost(t, store, t0)
	rc.hold = make(chan struct{})
	first, err := h.Go(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	<-rc.arrived // the first execution runs, held
	second, _ := h.Go(context.Background())
	third, _ := h.Go(context.Background())
	if second != third {
		t.Errorf("two occurrences due during one execution gave two executions")
	}
	rc.mu.Lock()
	n := len(rc.got)
	rc.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d executions reached the handler while the first runs, want 1", n)
	}
	close(rc.hold)
	first.Wait()
	second.Wait()
	if len(rc.got) != 2 || rc.maxBusy != 1 {
		t.Fatalf("%d executions, %d at once; want 2, one at a time", len(rc.got), rc.maxBusy)
	}
	if !first.At.Equal(t0.Add(10*time.Second)) || !second.At.Equal(t0.Add(20*time.Second)) || second.Timer.IsPastDue {
		t.Errorf("first at %s, the deferred at %s (past due %v)", first.At, second.At, second.Timer.IsPastDue)
	}
}

// TestIdentityEndpoint: App Service's token endpoint as azidentity's ManagedIdentityCredential
// reaches it (IDENTITY_ENDPOINT and IDENTITY_HEADER), issuing the app's user-assigned
// identity's token for the resource asked, which Resource Manager takes as its principal; the
// header, the api-version, and an identity of the app are required.
func TestIdentityEndpoint(t *testing.T) {
	store, _, clientID := handlerApp(t, "0 */1 * * * *", nil)
	ie := IdentityEndpoint{Store: store, App: "watcher-app", Header: "the-header"}
	srv := httptest.NewServer(ie)
	defer srv.Close()
	c, _ := store.Load()
	mi := identityByClientID(c, clientID)
	principal, _ := mi.Properties["principalId"].(string)
	for _, tt := range []struct {
		name, header, version, client, resource string
		status                                  int
	}{
		{"the app's identity", "the-header", IdentityAPIVersion, clientID, "https://management.azure.com", 200},
		{"no header", "", IdentityAPIVersion, clientID, "https://management.azure.com", 401},
		{"another api-version", "the-header", "2017-09-01", clientID, "https://management.azure.com", 400},
		{"an identity not the app's", "the-header", IdentityAPIVersion, "other-client", "https://management.azure.com", 400},
		{"no identity named", "the-header", IdentityAPIVersion, "", "https://management.azure.com", 400},
		{"a resource without a service principal", "the-header", IdentityAPIVersion, clientID, "api://nobody", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"api-version": {tt.version}, "resource": {tt.resource}}
			if tt.client != "" {
				q.Set("client_id", tt.client)
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"?"+q.Encode(), nil)
			if tt.header != "" {
				req.Header.Set("X-IDENTITY-HEADER", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				return
			}
			if p, ok := tenantPrincipal(body["access_token"], armAudiences...); !ok || p != principal || body["client_id"] != clientID || body["expires_on"] == "" {
				t.Errorf("token for %s: principal %q (%v), answer %v", p, principal, ok, body)
			}
			if _, ok := tenantPrincipal(body["access_token"], logsAudiences...); ok {
				t.Errorf("Resource Manager's token is taken by Log Analytics")
			}
		})
	}

	// azidentity's own client, as the watcher signs in.
	t.Setenv("IDENTITY_ENDPOINT", srv.URL)
	t.Setenv("IDENTITY_HEADER", "the-header")
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(clientID)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://api.loganalytics.io/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tenantPrincipal(tok.Token, logsAudiences...); !ok || p != principal {
		t.Errorf("azidentity's token: principal %q, ok %v; want %s", p, ok, principal)
	}
}

// TestTenantTokensSignInAsTheirPrincipal: Resource Manager and the Log Analytics query API take
// a token the tenant issued for their own audience as its principal's, and refuse one issued
// for another service or signed by nobody.
func TestTenantTokensSignInAsTheirPrincipal(t *testing.T) {
	store, _, clientID := handlerApp(t, "0 */1 * * * *", nil)
	var arm, logs, blob string
	var principal string
	if err := store.Update(func(c *Cloud) error {
		principal, _ = identityByClientID(c, clientID).Properties["principalId"].(string)
		var err error
		if arm, err = c.IssueToken(clientID, "https://management.azure.com"); err != nil {
			return err
		}
		if logs, err = c.IssueToken(clientID, "https://api.loganalytics.io"); err != nil {
			return err
		}
		blob, err = c.IssueToken(clientID, "https://storage.azure.com")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	forged := ForgeToken(Claims{Aud: "https://management.azure.com", AppID: clientID, Oid: principal, Exp: time.Now().Add(time.Hour).Unix()})
	a := &ARM{Token: "owner"}
	tel := &Telemetry{Token: "owner", Access: &QueryAccess{Store: store}}
	for _, tt := range []struct {
		name        string
		token       string
		arm, logsOK bool
	}{
		{"Resource Manager's token", arm, true, false},
		{"Log Analytics' token", logs, false, true},
		{"Azure Storage's token", blob, false, false},
		{"a forged token", forged, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tt.token)
			if p, ok := a.caller(r); ok != tt.arm || ok && p != principal {
				t.Errorf("ARM: principal %q, ok %v; want ok %v", p, ok, tt.arm)
			}
			if p, ok := tel.caller(r); ok != tt.logsOK || ok && p != principal {
				t.Errorf("Log Analytics: principal %q, ok %v; want ok %v", p, ok, tt.logsOK)
			}
		})
	}
}
