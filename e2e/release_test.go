//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// The release scenarios run `slotless release` as a pipeline stage does, against the stand-in
// provider, with scripted services a test controls: the API behind APIM (each slot answering
// pinned requests, its health endpoint with its version as the function app does, and its
// routes), and the Log Analytics query API the metrics gate reads (azurefake.Telemetry, which
// evaluates the gate's KQL over request rows), with the credential the az CLI hands out. The
// API's users are azurefake.Users: requests every second, split by the pool's weights as ARM
// holds them, recorded as Application Insights records them (a function's 500 as a success)
// and ingested late.

// e2eToken is the access token the scripted az CLI hands out and Log Analytics accepts.
const e2eToken = "e2e-log-analytics-token"

// failureRate is the share of a failing canary's requests that fail, 20% as in the README.
const failureRate = 0.2

// usersPerSecond is the API's traffic in the scenarios: enough that a 10 s window of a 10%
// canary holds metricsMinRequests.
const usersPerSecond = 100

// The ingestion delay of the scenarios that are not about it, and the lag they configure to
// match: the scenario about lag (TestLateTelemetryIsJudged) delays telemetry past its step's
// bake.
const (
	quickDelayMin = 1 * time.Second
	quickDelayMax = 4 * time.Second
	quickLag      = "metricsLagSeconds 5"
)

// services are the scripted API and Log Analytics of one test.
type services struct {
	t      *testing.T
	health *httptest.Server
	logs   *httptest.Server
	// certFile holds the Log Analytics server's certificate, the only one slotless trusts;
	// azDir holds the scripted az CLI.
	certFile, azDir string
	pinToken        string
	table           *azurefake.Telemetry
	users           *azurefake.Users
	stop            chan struct{}

	mu       sync.Mutex
	versions map[string]string
	down     map[string]bool
	// routesFail makes a slot's routes answer 500 while its health endpoint stays green.
	routesFail map[string]bool
	// cloud and apps, once set, make a slot whose app a site update restarted answer 503
	// until it is back (azurefake's SiteUpdateRestartMs); apps maps slot to app name.
	cloud *azurefake.Store
	sub   string
	apps  map[string]string
	// failingSince is when the canary started failing; zero while it is healthy.
	failingSince time.Time
	// forgeAsStable makes the canary's code write requests named as the stable app
	// (forgeUntil), from forgeNext on; forgeRefusals are ingestion's refusals of its attempts
	// with the stable slot's connection string.
	forgeAsStable bool
	forgeNext     time.Time
	forgeRefusals []string
	// delayMin and delayMax bound the ingestion delay of each second's requests.
	delayMin, delayMax time.Duration
	perSecond          float64
	// apiPath is the API's path under the gateway (apiPath): slotless for this repository's
	// stack, a team's own otherwise.
	apiPath string
	// usersThroughGateway, once set, loses each of a slot's users' requests that its app
	// refuses as the gateway forwards it (Cloud.ThroughGatewayAt, at a route of the API): a
	// request the app's built-in authentication refuses never reaches the Functions host, so
	// Application Insights records nothing of it.
	usersThroughGateway bool
	// redirect, when set for a slot, makes every request pinned to it answer 302 with this
	// URL as the Location (the slot's app sending callers to a login page on another host).
	redirect map[string]string
	// hold, when set, runs before each request the commands send to the API directly (not the
	// watcher's, which come through the gateway): a test holds a release open there.
	hold func()
}

// serveDirect answers the commands' requests (--api-url), after hold.
func (s *services) serveDirect(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		hold()
	}
	s.serveAPI(w, r)
}

// holdDirect holds every request the commands send to the API directly open until the
// returned let is called; held is closed when the first one is held.
func (s *services) holdDirect() (held <-chan struct{}, let func()) {
	h, release := make(chan struct{}), make(chan struct{})
	var first, once sync.Once
	s.mu.Lock()
	s.hold = func() {
		first.Do(func() { close(h) })
		<-release
	}
	s.mu.Unlock()
	return h, func() {
		once.Do(func() {
			s.mu.Lock()
			s.hold = nil
			s.mu.Unlock()
			close(release)
		})
	}
}

func newServices(t *testing.T, pinToken string) *services {
	t.Helper()
	s := &services{t: t, pinToken: pinToken, versions: map[string]string{"green": "1.0.0", "blue": "1.1.0"}, down: map[string]bool{}, routesFail: map[string]bool{},
		delayMin: quickDelayMin, delayMax: quickDelayMax, perSecond: usersPerSecond, stop: make(chan struct{}), apiPath: "slotless"}
	s.health = httptest.NewServer(http.HandlerFunc(s.serveDirect))
	t.Cleanup(s.health.Close)
	s.table = &azurefake.Telemetry{Now: time.Now, Token: e2eToken}
	s.logs = httptest.NewTLSServer(s.table)
	t.Cleanup(s.logs.Close)

	dir := t.TempDir()
	s.certFile = filepath.Join(dir, "logs.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.logs.Certificate().Raw})
	if err := os.WriteFile(s.certFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	// The az CLI as azure/login leaves it: `az account get-access-token` answers with a token.
	s.azDir = filepath.Join(dir, "az")
	az := "#!/bin/sh\necho \"$*\" >>\"$(dirname \"$0\")/calls\"\n" +
		"printf '{\"accessToken\":\"" + e2eToken + "\",\"expires_on\":%s,\"tokenType\":\"Bearer\"}\\n' \"$(($(date +%s) + 3600))\"\n"
	if err := os.MkdirAll(s.azDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.azDir, "az"), []byte(az), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// startUsers sends the users' requests from now on: each whole second is written a moment
// after it ends, split by the pool's weights as ARM holds them then (APIM routes by the pool it
// has), so a shift shows in the telemetry within about a second, as it does on Azure.
func (s *services) startUsers() {
	s.users = &azurefake.Users{
		BaseFailures: 0.001,
		Apps:         s.apps,
		Component:    s.componentOf,
		Weights:      func(time.Time) map[string]int { return s.poolWeights() },
		Lost:         s.lostAtGateway,
		Failing: func(slot string, at time.Time) float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			if slot == "blue" && (s.routesFail[slot] || !s.failingSince.IsZero() && !at.Before(s.failingSince)) {
				if s.routesFail[slot] {
					return 1
				}
				return failureRate
			}
			return 0
		},
		Delay: func(at time.Time) time.Duration {
			s.mu.Lock()
			lo, hi := s.delayMin, s.delayMax
			s.mu.Unlock()
			return azurefake.SpreadDelay(lo, hi)(at)
		},
	}
	from := time.Now()
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.mu.Lock()
				s.users.PerSecond = s.perSecond
				s.mu.Unlock()
				now := time.Now()
				s.users.Until(s.table, from, now)
				s.forgeUntil(from, now)
			}
		}
	}()
	s.t.Cleanup(func() { close(s.stop) })
}

// lostAtGateway is the share of slot's users' requests lost before its app's Functions host
// (usersThroughGateway): all of them while the app refuses the gateway's request to a route.
func (s *services) lostAtGateway(slot string, _ time.Time) float64 {
	s.mu.Lock()
	on, cloud, app := s.usersThroughGateway, s.cloud, s.apps[slot]
	s.mu.Unlock()
	if !on || cloud == nil {
		return 0
	}
	c, err := cloud.Load()
	if err != nil {
		return 0
	}
	for _, r := range c.ByType("azure-native:web:WebApp") {
		if r.Name() == app && c.ThroughGatewayAt(s.sub, r, appPath(c, app, "/orders")).Status != http.StatusOK {
			return 1
		}
	}
	return 0
}

// appPath is the path on app's host that API Management forwards an operation's path under the
// API to: the path under the route prefix of the package the app runs.
func appPath(c *azurefake.Cloud, app, operation string) string {
	if prefix := c.RoutePrefixOf(app); prefix != "" {
		return "/" + prefix + operation
	}
	return operation
}

// componentOf is where slot's app sends its telemetry now, as the stand-in's ingestion decides
// it from the app's settings and its identity's roles (Cloud.SendTelemetry); ok is false when
// ingestion refuses it. Without a cloud, rows carry no component.
func (s *services) componentOf(slot string) (component string, ok bool) {
	s.mu.Lock()
	cloud, app := s.cloud, s.apps[slot]
	s.mu.Unlock()
	if cloud == nil {
		return "", true
	}
	c, err := cloud.Load()
	if err != nil {
		return "", false
	}
	for _, r := range c.ByType("azure-native:web:WebApp") {
		if r.Name() == app {
			component, err := c.SendTelemetry(r, "")
			return component, err == nil
		}
	}
	return "", false
}

// forgeUntil writes, for every whole second since the last call, what the canary's code sends
// once forgeAsStable is set: failing requests named as the stable app, forgeRatio times the
// canary's own requests that second, so the stable slot's failure rate looks like the
// canary's. The code sends them as the app sends everything, with its settings and identity:
// they land where ingestion puts them (Cloud.SendTelemetry), and an attempt with the stable
// slot's connection string is recorded in forgeRefusals when ingestion refuses it.
func (s *services) forgeUntil(from, now time.Time) {
	s.mu.Lock()
	on, cloud := s.forgeAsStable, s.cloud
	canaryApp, stableApp := s.apps["blue"], s.apps["green"]
	if s.forgeNext.IsZero() {
		s.forgeNext = from.Truncate(time.Second)
	}
	next := s.forgeNext
	perSecond, lo, hi := s.perSecond, s.delayMin, s.delayMax
	s.mu.Unlock()
	if !on || cloud == nil {
		s.mu.Lock()
		s.forgeNext = now.Truncate(time.Second)
		s.mu.Unlock()
		return
	}
	c, err := cloud.Load()
	if err != nil {
		return
	}
	var canary, stable *azurefake.Resource
	for _, r := range c.ByType("azure-native:web:WebApp") {
		switch r.Name() {
		case canaryApp:
			canary = r
		case stableApp:
			stable = r
		}
	}
	if canary == nil || stable == nil {
		return
	}
	own, ownErr := c.SendTelemetry(canary, "")
	_, stableErr := c.SendTelemetry(canary, c.ConnectionStringOf(componentIn(c, stable)))
	weights := s.poolWeights()
	var rows []azurefake.Row
	for ; !next.Add(time.Second).After(now); next = next.Add(time.Second) {
		n := int(perSecond * float64(weights["blue"]) / 100 * forgeRatio)
		if ownErr != nil || n == 0 {
			continue
		}
		rows = append(rows, azurefake.Row{App: stableApp, Component: own, Operation: "orders", Url: "https://" + stableApp + ".azurewebsites.net/api/orders",
			Generated: next, Ingested: next.Add(azurefake.SpreadDelay(lo, hi)(next)), ResultCode: http.StatusInternalServerError, Success: true, DurationMs: 5, Count: n, ItemCount: 1})
	}
	s.table.Add(rows...)
	s.mu.Lock()
	s.forgeNext = next
	if stableErr != nil {
		s.forgeRefusals = append(s.forgeRefusals, stableErr.Error())
	}
	s.mu.Unlock()
}

// forgeRatio is how many failing requests named as the stable app the forging canary writes
// for each of its own: with its 20% failing, the stable slot's rate rises above the canary's.
const forgeRatio = 2.5

// componentIn is the component an app's connection string names, by instrumentation key.
func componentIn(c *azurefake.Cloud, app *azurefake.Resource) string {
	id, _ := c.SendTelemetry(app, "")
	return id
}

// poolWeights reads each slot's share from the pool as the stand-in's ARM holds it.
func (s *services) poolWeights() map[string]int {
	out := map[string]int{"green": 100}
	c, err := s.cloud.Load()
	if err != nil {
		return out
	}
	for _, r := range c.ByType("azure-native:apimanagement:Backend") {
		pool, _ := r.Inputs["pool"].(map[string]any)
		services, _ := pool["services"].([]any)
		if r.Subscription != s.sub || len(services) == 0 {
			continue
		}
		w := map[string]int{}
		for _, e := range services {
			m, _ := e.(map[string]any)
			id, _ := m["id"].(string)
			weight, _ := m["weight"].(float64)
			if slot, ok := stack.SlotOfBackendID(azurefakeName(id)); ok {
				w[string(slot)] = int(weight)
			}
		}
		return w
	}
	return out
}

// serveAPI answers <api>/... for the slot a request is pinned to: /health as the function
// app's health function does, any other route as the sample's orders function.
func (s *services) serveAPI(w http.ResponseWriter, r *http.Request) {
	req := r
	slot := r.Header.Get("X-Slotless-Slot")
	s.mu.Lock()
	version, down, routesFail := s.versions[slot], s.down[slot], s.routesFail[slot]
	cloud, app, redirect := s.cloud, s.apps[slot], s.redirect[slot]
	s.mu.Unlock()
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	// principal is what the app's built-in authentication passed to its code, which the health
	// function returns as clientPrincipalId.
	var principal, component string
	sent := true
	if cloud != nil && app != "" {
		// The gateway forwards the request as API Management would: with the key its backend
		// sends and the token its policy gets, and the app answers as its host would. A request
		// the gateway fails or the app's authentication refuses never reaches the Functions
		// host, so Application Insights records nothing of it.
		if c, err := cloud.Load(); err == nil {
			for _, r := range c.ByType("azure-native:web:WebApp") {
				if r.Name() != app {
					continue
				}
				a := c.ThroughGatewayAt(s.sub, r, appPath(c, r.Name(), strings.TrimPrefix(req.URL.Path, "/"+s.apiPath)))
				if a.Status != http.StatusOK {
					http.Error(w, a.Reason, a.Status)
					return
				}
				principal = a.Principal
				// The app's telemetry goes where its connection string says, if ingestion
				// takes it from the app's identity.
				var err error
				component, err = c.SendTelemetry(r, "")
				sent = err == nil
			}
		}
	}
	if r.Header.Get("X-Slotless-Token") != s.pinToken || version == "" || !strings.HasPrefix(r.URL.Path, "/"+s.apiPath+"/") {
		http.Error(w, "not a pinned request", http.StatusNotFound)
		return
	}
	w.Header().Set("X-Slot", slot)
	w.Header().Set("X-Version", version)
	w.Header().Set("Content-Type", "application/json")
	// Application Insights records the request like any other, health checks and probes
	// included, at the URL the app saw: the gateway's path under /api, with the query string
	// the caller sent (a function's 500 recorded as a success).
	health := r.URL.Path == "/"+s.apiPath+"/health"
	code := http.StatusOK
	if routesFail && !health || down {
		code = http.StatusInternalServerError
		if health {
			code = http.StatusServiceUnavailable
		}
	}
	now := time.Now()
	s.mu.Lock()
	delay := azurefake.SpreadDelay(s.delayMin, s.delayMax)(now)
	s.mu.Unlock()
	seen := "https://" + app + ".azurewebsites.net/api" + strings.TrimPrefix(r.URL.Path, "/"+s.apiPath)
	if r.URL.RawQuery != "" {
		seen += "?" + r.URL.RawQuery
	}
	op := "orders"
	if health {
		op = "health"
	}
	if sent {
		s.table.Add(azurefake.Row{App: app, Component: component, Operation: op, Url: seen, Generated: now, Ingested: now.Add(delay), ResultCode: code, Success: true, DurationMs: 5, Count: 1, ItemCount: 1})
	}
	if !health {
		if code != http.StatusOK {
			w.WriteHeader(code)
			fmt.Fprint(w, `{"error":"the order store is unreachable"}`)
			return
		}
		fmt.Fprintf(w, `{"slot":%q,"version":%q,"message":"order served by the %s slot"}`, slot, version, slot)
		return
	}
	status, check := "ok", `{"status":"ok","durationMs":1}`
	if down {
		status, check = "fail", `{"status":"fail","error":"dependency down","durationMs":1}`
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintf(w, `{"status":%q,"slot":%q,"version":%q,"uptimeSeconds":60,"checks":{"config":%s},"clientPrincipalId":%q}`, status, slot, version, check, principal)
}

// failCanary makes 20% of the canary's requests answer 500 from now on, recorded with
// Success == true as the Functions host records them, and returns when that began.
func (s *services) failCanary() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failingSince = time.Now()
	return s.failingSince
}

// failCanaryFrom makes 20% of the canary's requests served from at on answer 500, as
// failCanary does: by the time a request was served, so where the failure falls in a window does
// not depend on when the test's goroutine runs.
func (s *services) failCanaryFrom(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failingSince = at
}

// failRoutes makes the canary's routes answer 500 from now on, while its health endpoint stays
// green, and returns when.
func (s *services) failRoutes() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routesFail["blue"] = true
	return time.Now()
}

// setDown stops or restarts a slot's health answers, and returns when.
func (s *services) setDown(slot string, down bool) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down[slot] = down
	return time.Now()
}

// onQuery runs fn after each Log Analytics query, numbered from 1 (the release's preflight).
func (s *services) onQuery(fn func(n int)) { s.table.OnQuery(fn) }

// workspaces are the workspaces the queries asked about.
func (s *services) workspaces() []string {
	var out []string
	for _, q := range s.table.Queries() {
		out = append(out, q.Workspace)
	}
	return out
}

// watch is the command line of `slotless watch` as a scheduled job runs it, with what release
// has.
func (s *services) watch(args, record string) string {
	return fmt.Sprintf(`env SLOTLESS_PIN_TOKEN=%s AZURE_TOKEN_CREDENTIALS=AzureCliCredential SSL_CERT_FILE=%s `+
		`ACTIONS_ID_TOKEN_REQUEST_URL= SYSTEM_OIDCREQUESTURI= PATH=%s:"$PATH" `+
		`slotless watch --stack dev --api-url %s/slotless --logs-endpoint %s/v1 --json %s >%s`,
		s.pinToken, s.certFile, s.azDir, s.health.URL, s.logs.URL, args, record)
}

// release is the command line of `slotless release` in a stage: the pinning token, the API
// and the signed-in az CLI from the environment, --json to a file.
func (s *services) release(args, record string) string {
	return fmt.Sprintf(`env SLOTLESS_PIN_TOKEN=%s AZURE_TOKEN_CREDENTIALS=AzureCliCredential SSL_CERT_FILE=%s `+
		`ACTIONS_ID_TOKEN_REQUEST_URL= SYSTEM_OIDCREQUESTURI= PATH=%s:"$PATH" `+
		`slotless release --stack dev --slot blue --version 1.1.0 --api-url %s/slotless --logs-endpoint %s/v1 --json %s >%s`,
		s.pinToken, s.certFile, s.azDir, s.health.URL, s.logs.URL, args, record)
}

// releaseUser is a deployed dev stack with the scripted services and the release plan set.
func releaseUser(t *testing.T, config ...string) (*user, *services) {
	t.Helper()
	u := deployed(t)
	token := golden.pinToken
	if token == "" {
		t.Fatal("the README's deploy sets no pinToken")
	}
	return u, withServices(t, u, token, config...)
}

// withServices gives a deployed user's stack the scripted services, with the release plan set:
// the API's users sending requests from now on, and the ARM facade the release reads the live
// pool through.
func withServices(t *testing.T, u *user, token string, config ...string) *services {
	t.Helper()
	// The scenarios' telemetry arrives within seconds, and the lag they wait for matches it,
	// unless a scenario sets its own; their bakes last seconds, and their apps start at once.
	u.configure(append([]string{quickLag, "analysisInitialDelaySeconds 0"}, config...)...)
	s := newServices(t, token)
	s.cloud, s.sub, s.apps = &u.cloud, u.sub, map[string]string{}
	for app, slot := range u.appNames() {
		s.apps[string(slot)] = app
	}
	s.startUsers()
	// The release reads the live pool through ARM: the stand-in's facade, whose CA the
	// release trusts beside the Log Analytics server's certificate.
	a := u.withARM()
	f, err := os.OpenFile(s.certFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(a.ca); err != nil {
		t.Fatal(err)
	}
	return s
}

// configure writes "key value" settings into the stack file, as a team's reviewed change to its
// release plan does, in one edit rather than a pulumi config set (a CLI process) each. A value
// is YAML, so JSON lists and objects (releaseSteps with bakes of their own) stay structured.
func (u *user) configure(settings ...string) {
	u.t.Helper()
	path := filepath.Join(u.dir, "Pulumi.dev.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		u.t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		u.t.Fatalf("parse %s: %v", path, err)
	}
	root := doc.Content[0]
	var cfg *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "config" {
			cfg = root.Content[i+1]
		}
	}
	if cfg == nil {
		u.t.Fatalf("%s has no config", path)
	}
	proj, err := project.Load(u.dir)
	if err != nil {
		u.t.Fatal(err)
	}
	for _, kv := range settings {
		key, value, ok := strings.Cut(kv, " ")
		if !ok {
			u.t.Fatalf("setting %q: want \"key value\"", kv)
		}
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(value), &v); err != nil {
			u.t.Fatalf("setting %s: %v", key, err)
		}
		name := proj.Name + ":" + key
		set := false
		for i := 0; i+1 < len(cfg.Content); i += 2 {
			if cfg.Content[i].Value == name {
				cfg.Content[i+1], set = v.Content[0], true
			}
		}
		if !set {
			cfg.Content = append(cfg.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, v.Content[0])
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		u.t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		u.t.Fatal(err)
	}
}

// keepRecord copies a run's record to $E2E_RECORDS/name.json when that is set: `make
// report-records` refreshes the report's test records (internal/report/testdata) from real runs
// this way.
func keepRecord(t *testing.T, path, name string) {
	t.Helper()
	dir := os.Getenv("E2E_RECORDS")
	if dir == "" {
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readRecord reads a --json record.
func readRecord(t *testing.T, path string) rollout.Record {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec rollout.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("record %s: %v\n%s", path, err, raw)
	}
	return rec
}

// writes describes the cloud writes among calls, in order: each create, update or delete as
// "<op> <what>", naming the traffic resources, the slots' apps and the watcher's.
func (u *user) writes(calls []azurefake.Call) []string {
	u.t.Helper()
	outs, err := u.stack("dev").PlainOutputs(u.t.Context())
	if err != nil {
		u.t.Fatal(err)
	}
	apps := slotApps(outs)
	watcherApp, _ := outs[stack.OutWatcherAppName].(string)
	var out []string
	for _, c := range calls {
		if c.Preview || c.Error != "" || (c.Op != "create" && c.Op != "update" && c.Op != "delete") {
			continue
		}
		name := azurefakeName(c.Target)
		what := c.Token + " " + name
		switch {
		case c.Token == "azure-native:apimanagement:Backend" && strings.HasSuffix(name, stack.PoolID):
			what = "pool"
		case c.Token == "azure-native:apimanagement:NamedValue" && strings.HasSuffix(name, stack.CurrentSlotNamedValue):
			what = "current-slot-name"
		case c.Token == "azure-native:web:WebApp" && apps[name] != "":
			what = string(apps[name]) + " app"
		case c.Token == "azure-native:web:WebApp" && name == watcherApp:
			what = "watcher app"
		}
		out = append(out, c.Op+" "+what)
	}
	return out
}

// appNames maps each function app's name to its slot, from the stack outputs.
func (u *user) appNames() map[string]stack.Slot {
	u.t.Helper()
	outs, err := u.stack("dev").PlainOutputs(u.t.Context())
	if err != nil {
		u.t.Fatal(err)
	}
	return slotApps(outs)
}

// slotApps maps each slot's app name to its slot, from a stack's outputs.
func slotApps(outs map[string]any) map[string]stack.Slot {
	m := map[string]stack.Slot{}
	for _, s := range stack.Slots {
		if n, _ := outs[stack.OutAppName(s)].(string); n != "" {
			m[n] = s
		}
	}
	return m
}

// alwaysReady reads each slot's app always-ready count as ARM holds it (0 without an entry).
func (u *user) alwaysReady() map[stack.Slot]int {
	u.t.Helper()
	apps := u.appNames()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	out := map[stack.Slot]int{}
	for _, r := range c.ByType("azure-native:web:WebApp") {
		slot, ok := apps[r.Name()]
		if !ok || r.Subscription != u.sub {
			continue
		}
		fc, _ := r.Inputs["functionAppConfig"].(map[string]any)
		sc, _ := fc["scaleAndConcurrency"].(map[string]any)
		list, _ := sc["alwaysReady"].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			if m["name"] == stack.AlwaysReadyGroup {
				out[slot] = int(m["instanceCount"].(float64))
			}
		}
	}
	return out
}

// untilBlueIs waits until the pool in APIM gives blue the weight, and says when it saw it.
func (u *user) untilBlueIs(weight int, limit time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, err := u.cloud.Load()
		if err == nil {
			for _, r := range c.ByType("azure-native:apimanagement:Backend") {
				pool, _ := r.Inputs["pool"].(map[string]any)
				services, _ := pool["services"].([]any)
				for _, s := range services {
					m := s.(map[string]any)
					if slot, _ := stack.SlotOfBackendID(azurefakeName(m["id"].(string))); slot == stack.Blue && int(m["weight"].(float64)) == weight && r.Subscription == u.sub {
						return time.Now(), true
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Time{}, false
}

// lockedBuffer is a buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs a command line as sh does, without waiting for it; `exec` keeps its process id
// the command's, so the test can kill it.
func (u *user) start(line string) (*exec.Cmd, *lockedBuffer) {
	u.t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", "exec "+line)
	cmd.Dir = u.dir
	cmd.Env = os.Environ()
	for k, v := range u.env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH="+u.path())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		u.t.Fatal(err)
	}
	return cmd, out
}

// alwaysReadyRelease is a deployed dev stack for the release scenarios about alwaysReadyInstances:
// 2 of them, applied first as a reviewed change, no bake (the bakes are TestReleaseReachesGA's),
// and from then on every app update restarts the app, which stops answering for 3 s.
func alwaysReadyRelease(t *testing.T) (*user, *services) {
	t.Helper()
	u, svc := releaseUser(t, "bakeMinutes 0", "alwaysReadyInstances 2")
	u.up("dev")
	if got := u.alwaysReady(); got[stack.Green] != 2 || got[stack.Blue] != 0 {
		t.Fatalf("always-ready at steady state: got %v, want green 2, blue 0", got)
	}
	if err := u.cloud.Update(func(c *azurefake.Cloud) error { c.SiteUpdateRestartMs = 3000; return nil }); err != nil {
		t.Fatal(err)
	}
	return u, svc
}

// releaseRun is one command of a release scenario and what it must leave behind.
type releaseRun struct {
	name   string
	line   func(record string) string
	code   int
	blue   int
	writes []string
	ready  map[stack.Slot]int
	steps  []string // from→to of the record's steps; "=N" for a resumed step
}

// runReleases runs each command in turn as a subtest, checking its exit code, the pool, the
// cloud writes it made (and that no app restarted while it carried traffic), the apps'
// always-ready counts and the steps its record took.
func runReleases(t *testing.T, u *user, runs []releaseRun) {
	t.Helper()
	for _, tc := range runs {
		t.Run(tc.name, func(t *testing.T) {
			u.t = t
			record := filepath.Join(t.TempDir(), "release.json")
			before := len(u.calls())
			out, err := u.trySh(tc.line(record))
			t.Log(out)
			if code := exitCode(err); code != tc.code {
				t.Fatalf("exit: got %d, want %d", code, tc.code)
			}
			if w := u.weights(); w.Blue != tc.blue {
				t.Fatalf("pool: got %s, want blue %d", w, tc.blue)
			}
			calls := u.calls()[before:]
			got := u.writes(calls)
			slices.Sort(got)
			if !slices.Equal(got, tc.writes) {
				t.Errorf("cloud writes: got %v, want %v", got, tc.writes)
			}
			// An app's site update restarts it: never while it carries traffic.
			for _, c := range calls {
				if c.Note != "" && !strings.Contains(c.Note, "carrying 0%") {
					t.Errorf("%s: %s", azurefakeName(c.Target), c.Note)
				}
			}
			if got := u.alwaysReady(); got[stack.Green] != tc.ready[stack.Green] || got[stack.Blue] != tc.ready[stack.Blue] {
				t.Errorf("always-ready: got %v, want %v", got, tc.ready)
			}
			if tc.code == 3 && !strings.Contains(out, "a release of blue is in progress") {
				t.Errorf("refusal: got\n%s\nwant it to say a release of blue is in progress", out)
			}
			if tc.steps == nil {
				return
			}
			var steps []string
			for _, s := range readRecord(t, record).StepsTaken {
				if s.Resumed {
					steps = append(steps, fmt.Sprintf("=%d", s.To))
				} else {
					steps = append(steps, fmt.Sprintf("%d→%d", s.From, s.To))
				}
			}
			if !slices.Equal(steps, tc.steps) {
				t.Errorf("steps: got %v, want %v", steps, tc.steps)
			}
		})
	}
}

// TestReleaseUntilResumesAndAlwaysReady: with alwaysReadyInstances 2, `--until 10` stops at 10
// having changed the pool and the blue app's always-ready count 0 → 2 and nothing else; `--until
// 50` resumes where the deployed stack stands, never from 0, changing the pool alone; a release
// of green meanwhile is refused with exit 3; the last run reaches 100, changing the pool,
// current-slot-name and the green app's count 2 → 0.
func TestReleaseUntilResumesAndAlwaysReady(t *testing.T) {
	parallel(t, 75*time.Second)
	u, svc := alwaysReadyRelease(t)
	runReleases(t, u, []releaseRun{
		{"release --until 10", func(r string) string { return svc.release("--until 10", r) }, 0, 10,
			[]string{"update blue app", "update pool"}, map[stack.Slot]int{stack.Green: 2, stack.Blue: 2}, []string{"0→10"}},
		{"release --until 50", func(r string) string { return svc.release("--until 50", r) }, 0, 50,
			[]string{"update pool"}, map[stack.Slot]int{stack.Green: 2, stack.Blue: 2}, []string{"=10", "10→50"}},
		{"a release of green meanwhile", func(r string) string { return svc.release("--slot green --version 1.0.0", r) }, 3, 50,
			nil, map[stack.Slot]int{stack.Green: 2, stack.Blue: 2}, nil},
		{"release to GA", func(r string) string { return svc.release("", r) }, 0, 100,
			[]string{"update current-slot-name", "update green app", "update pool"}, map[stack.Slot]int{stack.Blue: 2}, []string{"=50", "50→100"}},
	})
}

// TestReleaseAfterARollbackFromInside: with alwaysReadyInstances 2, a rollback of a release
// stopped at `--until 10` takes the pool and the blue app's always-ready count back, and the
// next `--until 10` starts from 0 again, changing both as the first did.
func TestReleaseAfterARollbackFromInside(t *testing.T) {
	parallel(t, 90*time.Second)
	u, svc := alwaysReadyRelease(t)
	runReleases(t, u, []releaseRun{
		{"release --until 10", func(r string) string { return svc.release("--until 10", r) }, 0, 10,
			[]string{"update blue app", "update pool"}, map[stack.Slot]int{stack.Green: 2, stack.Blue: 2}, []string{"0→10"}},
		{"rollback from inside the release", func(string) string { return "slotless rollback --stack dev --slot blue" }, 0, 0,
			[]string{"update blue app", "update pool"}, map[stack.Slot]int{stack.Green: 2}, nil},
		{"release --until 10 again", func(r string) string { return svc.release("--until 10", r) }, 0, 10,
			[]string{"update blue app", "update pool"}, map[stack.Slot]int{stack.Green: 2, stack.Blue: 2}, []string{"0→10"}},
	})
}

// TestReleaseRollsBackAFailingCanary scripts the worst cases: a canary 20% of whose requests
// start answering 500 (which the Functions host records with Success == true, so a gate that
// counts Success alone passes it) just late enough before a window closes for that window to
// pass (the failure fills a tenth of it, which stays within the 2-point delta), and a slot that
// stops answering right after an analysis passed. Each time the release rolls blue back to 0%
// with exit code 4, and the test measures the time from the failure's start to blue's weight in
// APIM being 0. The target is at most one analysis interval, the ingestion lag the window is
// judged after, and one shift; for a failure the metrics gate must see, the share of an interval
// it slipped under the threshold adds to it. A slot that stops answering is caught by the health
// checks between analyses, within one interval and one shift.
func TestReleaseRollsBackAFailingCanary(t *testing.T) {
	parallel(t, 65*time.Second)
	const interval = 10 * time.Second
	// A 20% failure hides under the default 2-point delta while it fills at most a tenth of a
	// window.
	under := time.Duration(float64(interval) * 0.02 / failureRate)
	const lag = 5 * time.Second // quickLag
	for _, tc := range []struct {
		name  string
		delay time.Duration // after the first analysis at 10%
		fail  func(*services) time.Time
		cause string
		slack time.Duration // what the bound allows beyond one interval and one shift
		keep  string        // the name the record is kept by (keepRecord)
	}{
		// Query 2 judges the first window, [shift, shift+10s), 5 s (the lag) after it closed;
		// the failure then starts 1 s (under) before the second window closes.
		{"500s recorded as successes", interval - under - lag, (*services).failCanary, "metrics gate: failure-rate: canary failure rate", under + lag, "aborted"},
		{"health", 0, func(s *services) time.Time { return s.setDown("blue", true) }, "health gate: ", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case is a release of its own stack, so the two run at once.
			t.Parallel()
			// The first step bakes 60 s, six analyses: the failure the metrics gate must see
			// fills the third window, so it is caught mid-bake, not by the bake's last word,
			// and a slot that stops answering after the first has half a minute to be seen
			// in. Neither waits for the bake's end.
			u, svc := releaseUser(t, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 10, "bake": "60s"}, 50, 100]`)
			failed := make(chan time.Time, 1)
			// Query 1 checks the credentials before anything moves; query 2 is the first
			// analysis at 10%.
			svc.onQuery(func(n int) {
				if n == 2 {
					time.AfterFunc(tc.delay, func() { failed <- tc.fail(svc) })
				}
			})
			reports := t.TempDir()
			record := filepath.Join(t.TempDir(), "release.json")
			cmd, out := u.start(svc.release("--report-dir "+reports, record))
			var began time.Time
			select {
			case began = <-failed:
			case <-time.After(4 * time.Minute):
				_ = cmd.Process.Kill()
				t.Fatalf("the first analysis never came\n%s", out)
			}
			zero, ok := u.untilBlueIs(0, 3*time.Minute)
			err := cmd.Wait()
			t.Log(out.String())
			if !ok {
				t.Fatal("blue's weight never went back to 0")
			}
			if code := exitCode(err); code != 4 {
				t.Errorf("exit: got %d, want 4 (aborted, rolled back)", code)
			}
			took := zero.Sub(began)
			rec := readRecord(t, record)
			if rec.Outcome != rollout.OutcomeRolledBack || rec.Rollback == nil || !strings.Contains(rec.Rollback.Reason, tc.cause) {
				t.Fatalf("record: got outcome %s, rollback %+v; want rolled back for %q", rec.Outcome, rec.Rollback, tc.cause)
			}
			shift := rec.Rollback.Finished.Sub(rec.Rollback.Started)
			t.Logf("MEASURED %s: from the canary failing to blue at 0%% in APIM: %s (analysis interval %s, the rollback's up %s)", tc.name, took.Round(100*time.Millisecond), interval, shift.Round(100*time.Millisecond))
			// One second for the analysis itself and the poll of the cloud.
			// One second for whole-second windows.
			if limit := interval + tc.slack + shift + 2*time.Second; took > limit {
				t.Errorf("failure to 0%%: got %s, want at most %s", took, limit)
			}
			if len(rec.StepsTaken) != 1 || rec.StepsTaken[0].To != 10 {
				t.Errorf("steps: got %+v, want the release stopped in its first step", rec.StepsTaken)
			}
			if got := u.currentSlotName(); got != "green-backend" {
				t.Errorf("current-slot-name: got %q, want green-backend", got)
			}
			checkReportDir(t, reports, record, "was rolled back to 0% after")
			if tc.keep != "" {
				keepRecord(t, record, tc.keep)
			}
		})
	}
}

// checkReportDir checks what release --report-dir wrote after a run: the run's record as --json
// printed it, and both reports, each leading with the headline.
func checkReportDir(t *testing.T, dir, record, headline string) {
	t.Helper()
	want, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, name := range []string{"release.json", "release.html", "release.md"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("--report-dir: %v", err)
		}
		files[name] = string(raw)
	}
	if files["release.json"] != string(want) {
		t.Errorf("--report-dir release.json differs from the --json record")
	}
	if !strings.Contains(files["release.html"], `<svg id="traffic"`) || !strings.Contains(files["release.html"], headline) {
		t.Errorf("release.html: got no traffic chart or no %q", headline)
	}
	if !strings.HasPrefix(files["release.md"], "## ") || !strings.Contains(files["release.md"], headline) || !strings.Contains(files["release.md"], "```mermaid") {
		t.Errorf("release.md: got\n%s\nwant the headline %q and a chart", files["release.md"], headline)
	}
}

// TestReleaseResumesAfterACrash: a release killed in the middle of its first bake leaves the
// traffic at 10%, and the next run bakes 10% again, for that step's own 20 s, from where the
// deployed stack stands: it does not shift again, and never starts from 0. The steps after it
// are plain integers and keep bakeMinutes, as the plan printed before the crash says.
func TestReleaseResumesAfterACrash(t *testing.T) {
	parallel(t, 80*time.Second)
	u, svc := releaseUser(t, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 10, "bake": "20s"}, 50, 100]`)
	killed := make(chan struct{})
	var cmd *exec.Cmd
	svc.onQuery(func(n int) {
		if n == 2 { // the first analysis at 10%
			_ = cmd.Process.Signal(syscall.SIGKILL)
			close(killed)
		}
	})
	cmd, out := u.start(svc.release("--until 50", filepath.Join(t.TempDir(), "crashed.json")))
	select {
	case <-killed:
	case <-time.After(4 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the first analysis never came\n%s", out)
	}
	_ = cmd.Wait()
	t.Log(out.String())
	if w := u.weights(); w.Blue != 10 {
		t.Fatalf("pool after the crash: got %s, want blue 10", w)
	}
	for _, want := range []string{
		"step 1: 0% → 10%: changes pool weights only; bake 20s (2 analyses, every 10s)",
		"step 2: 10% → 50%: changes pool weights only; bake 10m0s (60 analyses, every 10s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the plan before the crash: got no %q", want)
		}
	}
	svc.onQuery(nil)
	before := len(u.calls())
	record := filepath.Join(t.TempDir(), "resumed.json")
	resumed := u.sh(svc.release("--until 10", record))
	t.Log(resumed)
	rec := readRecord(t, record)
	keepRecord(t, record, "resumed")
	if rec.Outcome != rollout.OutcomePaused || len(rec.StepsTaken) != 1 || !rec.StepsTaken[0].Resumed || rec.StepsTaken[0].To != 10 || len(rec.StepsTaken[0].Analyses) != 2 {
		t.Fatalf("record: got %s with steps %+v, want paused after baking 10%% again with 2 analyses", rec.Outcome, rec.StepsTaken)
	}
	if p := rec.Planned; len(p) != 1 || p[0].BakeSeconds != 20 || p[0].BakeFrom != rollout.BakeFromStep {
		t.Errorf("planned: got %+v, want 10%% baked again for its own 20 s", p)
	}
	if got := u.writes(u.calls()[before:]); len(got) != 0 {
		t.Errorf("cloud writes of the resumed run: got %v, want none (no shift again)", got)
	}
	if !strings.Contains(resumed, "step 1/1: blue stands at 10%: bake it again before going on") {
		t.Errorf("progress: got\n%s\nwant it to say it resumes at 10%%", resumed)
	}
}

// TestReleaseDryRunChangesNothing: a dry run reads where the deployed stack stands (not the
// local file), prints the plan, and touches neither the cloud nor the stack file, without the
// pinning token or Azure credentials.
func TestReleaseDryRunChangesNothing(t *testing.T) {
	parallel(t, 10*time.Second)
	u := deployed(t)
	u.run("pulumi config set blueWeight 10 && pulumi up")
	u.sh("pulumi config set blueWeight 0") // the local file says otherwise
	cloudBefore, err := os.ReadFile(u.cloud.Path)
	if err != nil {
		t.Fatal(err)
	}
	fileBefore, err := os.ReadFile(filepath.Join(u.dir, "Pulumi.dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := u.sh("slotless release --stack dev --slot blue --version 1.1.0 --dry-run")
	t.Log(out)
	for _, want := range []string{
		"dry run: reading where the release stands from the deployed stack dev",
		"] deployed: green 90% / blue 10%, current-slot-name green-backend",
		"release plan (dry run: nothing is changed): blue 1.1.0, releaseSteps 10, 50, 100, until 100%",
		"step 1: stands at 10%: bake 10m0s again (10 analyses), no shift",
		"step 2: 10% → 50%: changes pool weights only",
		"step 3: 50% → 100%: changes pool weights + current-slot-name green-backend → blue-backend",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("got no %q", want)
		}
	}
	cloudAfter, _ := os.ReadFile(u.cloud.Path)
	fileAfter, _ := os.ReadFile(filepath.Join(u.dir, "Pulumi.dev.yaml"))
	if !bytes.Equal(cloudBefore, cloudAfter) {
		t.Error("the dry run changed the cloud")
	}
	if !bytes.Equal(fileBefore, fileAfter) {
		t.Errorf("the dry run changed Pulumi.dev.yaml:\n%s", fileAfter)
	}
}
