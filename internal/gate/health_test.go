package gate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// binDir holds the functionapp binary for the whole test run; TestMain
// removes it, since t.TempDir would vanish with the first test that built it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gate-test-")
	if err != nil {
		panic(fmt.Sprintf("make temp dir: %v", err))
	}
	binDir = dir
	defer os.RemoveAll(dir)
	m.Run()
}

var (
	buildOnce sync.Once
	appBin    string
	buildErr  error
)

// functionApp builds ./functionapp once per test run, so the gate is tested
// against the same health endpoint that gets deployed.
func functionApp(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the functionapp binary")
	}
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		bin := filepath.Join(binDir, "app")
		cmd := exec.Command("go", "build", "-o", bin, "./functionapp")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./functionapp: %w\n%s", err, out)
			return
		}
		appBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return appBin
}

// startApp runs the functionapp with env on a free loopback port and returns
// its base URL. Port 0 and the "listening" log line avoid a race for a port
// picked in advance.
func startApp(t *testing.T, env ...string) string {
	t.Helper()
	cmd := exec.Command(functionApp(t))
	cmd.Env = append([]string{"FUNCTIONS_CUSTOMHANDLER_PORT=0", "LOG_LEVEL=info"}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start functionapp: %v", err)
	}
	addrc := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		// Keep reading after the address: failing health checks log a line
		// per poll, and a full pipe would stall the app.
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				select {
				case addrc <- line.Addr:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
	select {
	case addr := <-addrc:
		return "http://" + addr
	case <-done:
		_ = cmd.Wait()
		t.Fatalf("functionapp exited before listening: %s", stderr.String())
		return ""
	}
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func gateReason(err error) Reason {
	var ge *GateError
	if errors.As(err, &ge) {
		return ge.Reason
	}
	return ""
}

func TestHealthAgainstFunctionApp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the functionapp binary")
	}
	// The slow case needs a dependency that answers late: a second app with
	// the debug delay on, which the gated app's dependency check calls.
	slowDep := func(t *testing.T) string {
		dep := startApp(t, "SLOT_NAME=green", "DEBUG_DELAY_ALLOWED=1")
		return "HEALTH_DEPENDENCY_URL=" + dep + "/api/orders?delay=1s"
	}
	tests := []struct {
		name       string
		env        func(t *testing.T) []string // nil: nothing listens
		slot       string
		version    string
		reqTimeout time.Duration
		want       Reason // "" means the gate passes
		wantDetail string
	}{
		{name: "healthy", env: func(*testing.T) []string { return []string{"SLOT_NAME=green", "APP_VERSION=1.2.0"} }, slot: "green", version: "1.2.0"},
		{name: "healthy without version", env: func(*testing.T) []string { return []string{"SLOT_NAME=blue"} }, slot: "blue"},
		{name: "failing check", env: func(*testing.T) []string { return []string{"APP_VERSION=1.2.0"} }, slot: "green", version: "1.2.0", want: ReasonUnhealthy, wantDetail: `HTTP 503, status "fail", failing checks: config (SLOT_NAME="", want green or blue)`},
		{name: "wrong version", env: func(*testing.T) []string { return []string{"SLOT_NAME=green", "APP_VERSION=1.1.0"} }, slot: "green", version: "1.2.0", want: ReasonWrongVersion, wantDetail: `version "1.1.0" (X-Version "1.1.0"), want "1.2.0"`},
		{name: "wrong slot", env: func(*testing.T) []string { return []string{"SLOT_NAME=blue", "APP_VERSION=1.2.0"} }, slot: "green", version: "1.2.0", want: ReasonWrongSlot, wantDetail: `answered by slot "blue" (X-Slot "blue"), want "green"`},
		{name: "slow", env: func(t *testing.T) []string { return []string{"SLOT_NAME=green", "APP_VERSION=1.2.0", slowDep(t)} }, slot: "green", version: "1.2.0", reqTimeout: 100 * time.Millisecond, want: ReasonTimeout, wantDetail: "no answer within the request timeout of 100ms"},
		{name: "down", slot: "green", want: ReasonUnreachable, wantDetail: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Most of each case is waiting for the gate's timeout, so the
			// cases overlap well.
			t.Parallel()
			base := "http://" + closedPort(t)
			if tt.env != nil {
				base = startApp(t, tt.env(t)...)
			}
			reqTimeout := tt.reqTimeout
			if reqTimeout == 0 {
				reqTimeout = time.Second
			}
			var progress bytes.Buffer
			res, err := Health(context.Background(), HealthConfig{
				URL:            base + "/api/health",
				Slot:           tt.slot,
				ExpectVersion:  tt.version,
				Successes:      3,
				Interval:       20 * time.Millisecond,
				Timeout:        1500 * time.Millisecond,
				RequestTimeout: reqTimeout,
			}, &progress)
			if got := gateReason(err); got != tt.want {
				t.Fatalf("reason: got %q, want %q (err %v)\n%s", got, tt.want, err, progress.String())
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if res.Attempts != 3 || res.Consecutive != 3 {
					t.Errorf("attempts, streak: got %d, %d, want 3, 3", res.Attempts, res.Consecutive)
				}
				if res.Slot != tt.slot {
					t.Errorf("slot: got %q, want %q", res.Slot, tt.slot)
				}
				if res.Checks["config"] != "ok" {
					t.Errorf("checks: got %v, want config ok", res.Checks)
				}
				if !strings.Contains(progress.String(), "health gate passed after 3 attempts") {
					t.Errorf("progress: got %q, want the pass line", progress.String())
				}
				return
			}
			if !strings.Contains(err.Error(), tt.wantDetail) {
				t.Errorf("error: got %q, want it to contain %q", err, tt.wantDetail)
			}
			if !strings.HasPrefix(err.Error(), string(tt.want)+": no 3 healthy answers in a row from slot "+tt.slot) {
				t.Errorf("error: got %q, want it to start with the reason and the streak", err)
			}
			if n := strings.Count(progress.String(), "\nattempt "); n != res.Attempts {
				t.Errorf("progress lines: got %d, want one per attempt (%d)", n, res.Attempts)
			}
		})
	}
}

// answer is one scripted reply of a fake health endpoint.
type answer struct {
	status  int
	slot    string // body slot
	xslot   string // X-Slot header; "" means same as slot, "none" sends none
	version string
	raw     string // body as is, instead of health JSON
}

// scripted serves answers in order and repeats the last one, recording the
// headers it was sent.
func scripted(t *testing.T, answers ...answer) (*httptest.Server, *atomic.Int64, *sync.Map) {
	t.Helper()
	var n atomic.Int64
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.Header {
			seen.Store(k, v[0])
		}
		i := int(n.Add(1)) - 1
		a := answers[min(i, len(answers)-1)]
		xslot := a.xslot
		if xslot == "" {
			xslot = a.slot
		}
		if xslot != "none" {
			w.Header().Set("X-Slot", xslot)
		}
		if a.version != "" {
			w.Header().Set("X-Version", a.version)
		}
		w.WriteHeader(a.status)
		if a.raw != "" {
			fmt.Fprint(w, a.raw)
			return
		}
		status := "ok"
		if a.status != http.StatusOK {
			status = "fail"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": status, "slot": a.slot, "version": a.version, "uptimeSeconds": 1,
			"checks": map[string]any{"config": map[string]any{"status": status, "durationMs": 0.1}},
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &seen
}

func TestHealthScripted(t *testing.T) {
	ok := answer{status: 200, slot: "green", version: "2.0.0"}
	oldVersion := answer{status: 200, slot: "green", version: "1.0.0"}
	down := answer{status: 503, slot: "green", version: "2.0.0"}
	tests := []struct {
		name         string
		answers      []answer
		want         Reason
		successes    int // 3 when zero
		wantAttempts int // checked when the gate passes
		wantDetail   string
	}{
		{name: "streak restarts after a failure", answers: []answer{ok, oldVersion, ok, ok, ok}, wantAttempts: 5},
		{name: "last failure decides the reason", answers: []answer{down, down, oldVersion}, want: ReasonWrongVersion},
		{name: "last failure decides, the other way", answers: []answer{oldVersion, oldVersion, down}, want: ReasonUnhealthy, wantDetail: "failing checks: config"},
		{name: "too few healthy answers after the last failure", answers: []answer{oldVersion, oldVersion, ok}, successes: 1000, want: ReasonWrongVersion, wantDetail: "; then "},
		{name: "X-Slot disagrees with the body", answers: []answer{{status: 200, slot: "green", xslot: "blue", version: "2.0.0"}}, want: ReasonWrongSlot, wantDetail: `X-Slot "blue"`},
		{name: "not JSON", answers: []answer{{status: 200, slot: "green", version: "2.0.0", raw: "<html>"}}, want: ReasonUnhealthy, wantDetail: "not health JSON"},
		{name: "unauthorised", answers: []answer{{status: 401, raw: "{}"}}, want: ReasonUnhealthy, wantDetail: "HTTP 401 Unauthorized"},
		// An app of the user's own, checked with --url against `func start`: each message names
		// what the answer lacks.
		{name: "no X-Slot header", answers: []answer{{status: 200, slot: "green", xslot: "none", version: "2.0.0"}}, want: ReasonWrongSlot, wantDetail: `slot: body field "slot" "green", X-Slot header missing; want "green" in both`},
		{name: "neither slot field nor header", answers: []answer{{status: 200, xslot: "none", raw: `{"status": "ok"}`}}, want: ReasonWrongSlot, wantDetail: `slot: body field "slot" missing, X-Slot header missing`},
		{name: "no version field", answers: []answer{{status: 200, slot: "green", raw: `{"status": "ok", "slot": "green"}`}}, want: ReasonWrongVersion, wantDetail: `version: body field "version" missing; want "2.0.0"`},
		{name: "no status field", answers: []answer{{status: 200, slot: "green", version: "2.0.0", raw: `{"slot": "green", "version": "2.0.0"}`}}, want: ReasonUnhealthy, wantDetail: `the body has no "status" field`},
		{name: "not JSON says what to send", answers: []answer{{status: 200, slot: "green", raw: "OK"}}, want: ReasonUnhealthy, wantDetail: `want {"status": "ok", "slot": "green", "version": "..."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _, _ := scripted(t, tt.answers...)
			successes := tt.successes
			if successes == 0 {
				successes = 3
			}
			var progress bytes.Buffer
			res, err := Health(context.Background(), HealthConfig{
				URL: srv.URL + "/health", Slot: "green", ExpectVersion: "2.0.0",
				Successes: successes, Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond, RequestTimeout: time.Second,
			}, &progress)
			if got := gateReason(err); got != tt.want {
				t.Fatalf("reason: got %q, want %q (err %v)\n%s", got, tt.want, err, progress.String())
			}
			if tt.want == "" {
				if res.Attempts != tt.wantAttempts {
					t.Errorf("attempts: got %d, want %d", res.Attempts, tt.wantAttempts)
				}
				return
			}
			if !strings.Contains(err.Error(), tt.wantDetail) {
				t.Errorf("error: got %q, want it to contain %q", err, tt.wantDetail)
			}
		})
	}
}

func TestHealthKeepsSecretsOut(t *testing.T) {
	const token, key, code = "tok-SECRET-1", "key-SECRET-2", "code-SECRET-3"
	tests := []struct {
		name string
		url  func(t *testing.T) string
		want Reason
	}{
		{name: "answered", url: func(t *testing.T) string {
			srv, _, _ := scripted(t, answer{status: 200, slot: "blue", version: "2.0.0"})
			return srv.URL + "/health?code=" + code
		}, want: ReasonWrongSlot},
		{name: "refused", url: func(t *testing.T) string {
			return "http://" + closedPort(t) + "/health?code=" + code
		}, want: ReasonUnreachable},
		{name: "redirected", url: func(t *testing.T) string {
			other, hits, _ := scripted(t, answer{status: 200, slot: "green", version: "2.0.0"})
			redirect := httptest.NewServer(http.RedirectHandler(other.URL+"/health", http.StatusFound))
			t.Cleanup(func() {
				redirect.Close()
				if n := hits.Load(); n != 0 {
					t.Errorf("redirect target hits: got %d, want 0", n)
				}
			})
			return redirect.URL + "/health?code=" + code
		}, want: ReasonUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var progress bytes.Buffer
			_, err := Health(context.Background(), HealthConfig{
				URL:     tt.url(t),
				Headers: map[string]string{"X-Slotless-Token": token, "Ocp-Apim-Subscription-Key": key},
				Slot:    "green", Successes: 1, Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond, RequestTimeout: time.Second,
			}, &progress)
			if got := gateReason(err); got != tt.want {
				t.Fatalf("reason: got %q, want %q (err %v)", got, tt.want, err)
			}
			for _, secret := range []string{token, key, code} {
				if strings.Contains(progress.String(), secret) || strings.Contains(err.Error(), secret) {
					t.Errorf("secret %q leaked:\n%s\n%v", secret, progress.String(), err)
				}
			}
			if !strings.Contains(progress.String(), "headers Ocp-Apim-Subscription-Key, X-Slotless-Token") {
				t.Errorf("progress: got %q, want the header names", progress.String())
			}
		})
	}
}

func TestHealthSendsHeaders(t *testing.T) {
	srv, _, seen := scripted(t, answer{status: 200, slot: "blue", version: "3"})
	_, err := Health(context.Background(), HealthConfig{
		URL: srv.URL, Slot: "blue", Successes: 1, Interval: time.Millisecond, Timeout: time.Second,
		Headers: map[string]string{"X-Slotless-Slot": "blue", "x-slotless-token": "t"},
	}, nil)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	for k, want := range map[string]string{"X-Slotless-Slot": "blue", "X-Slotless-Token": "t", "Accept": "application/json"} {
		got, _ := seen.Load(k)
		if got != want {
			t.Errorf("header %s: got %v, want %q", k, got, want)
		}
	}
}

func TestHealthConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  HealthConfig
		want string
	}{
		{"relative URL", HealthConfig{URL: "/api/health", Slot: "green"}, "want an absolute http or https URL"},
		{"bad scheme", HealthConfig{URL: "ftp://h/x?code=SECRET", Slot: "green"}, "url ftp://h/x: want"},
		{"no slot", HealthConfig{URL: "http://h/x"}, "slot: empty"},
		{"negative successes", HealthConfig{URL: "http://h/x", Slot: "green", Successes: -1}, "successes: -1"},
		{"negative interval", HealthConfig{URL: "http://h/x", Slot: "green", Interval: -time.Second}, "interval: -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Health(context.Background(), tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if gateReason(err) != "" {
				t.Errorf("got a gate error %v, want a config error", err)
			}
		})
	}
}

func TestHealthCancelledIsNotAGateFailure(t *testing.T) {
	srv, _, _ := scripted(t, answer{status: 503, slot: "green"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Health(ctx, HealthConfig{URL: srv.URL, Slot: "green", Interval: time.Millisecond, Timeout: time.Second}, nil)
	if !errors.Is(err, context.Canceled) || gateReason(err) != "" {
		t.Fatalf("got %v, want context.Canceled and no gate reason", err)
	}
}

// refuseFirst is a transport whose first n requests fail as a refused
// connection would, and the rest go through.
type refuseFirst struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (r *refuseFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return r.next.RoundTrip(req)
}

func TestHealthUnreachableWindow(t *testing.T) {
	t.Run("a refused connection fails the gate after the window, not the timeout", func(t *testing.T) {
		var progress bytes.Buffer
		res, err := Health(context.Background(), HealthConfig{
			URL: "http://" + closedPort(t) + "/health", Slot: "green", Successes: 1,
			Interval: 20 * time.Millisecond, Timeout: time.Minute, UnreachableAfter: 100 * time.Millisecond,
		}, &progress)
		if got := gateReason(err); got != ReasonUnreachable {
			t.Fatalf("reason: got %q, want %q (err %v)", got, ReasonUnreachable, err)
		}
		if !strings.Contains(err.Error(), "longer than the unreachable window of 100ms") {
			t.Errorf("error: got %q, want it to name the unreachable window", err)
		}
		if res.Attempts < 2 {
			t.Errorf("attempts: got %d, want the refusal retried within the window", res.Attempts)
		}
		if !strings.Contains(progress.String(), "no connection for 100ms fails the gate") {
			t.Errorf("banner: got %q, want it to state the window", progress.String())
		}
	})
	t.Run("refusals inside the window are retried", func(t *testing.T) {
		srv, _, _ := scripted(t, answer{status: 200, slot: "green", version: "2.0.0"})
		tr := &refuseFirst{next: http.DefaultTransport}
		tr.n.Store(3)
		var progress bytes.Buffer
		res, err := Health(context.Background(), HealthConfig{
			URL: srv.URL + "/health", Slot: "green", Successes: 1, Client: &http.Client{Transport: tr},
			Interval: time.Millisecond, Timeout: time.Minute, UnreachableAfter: time.Hour,
		}, &progress)
		if err != nil {
			t.Fatalf("got error %v, want the gate to pass\n%s", err, progress.String())
		}
		if res.Attempts != 4 {
			t.Errorf("attempts: got %d, want 4 (3 refused, 1 healthy)", res.Attempts)
		}
		if !strings.Contains(progress.String(), "connection refused") {
			t.Errorf("progress: got %q, want the refusals shown", progress.String())
		}
	})
}

func TestHealthRequestTimeoutNeverExceedsTheGate(t *testing.T) {
	srv, _, _ := scripted(t, answer{status: 200, slot: "green", version: "2.0.0"})
	var progress bytes.Buffer
	if _, err := Health(context.Background(), HealthConfig{
		URL: srv.URL, Slot: "green", Successes: 1, Timeout: 5 * time.Second, RequestTimeout: 10 * time.Second,
	}, &progress); err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	banner, _, _ := strings.Cut(progress.String(), "\n")
	if !strings.Contains(banner, "for up to 5s (each request up to 5s;") {
		t.Errorf("banner: got %q, want each request bounded by the gate's 5s", banner)
	}
}

func TestProbe(t *testing.T) {
	healthy, _, seen := scripted(t, answer{status: 200, slot: "blue", version: "1.1.0"})
	wrongSlot, _, _ := scripted(t, answer{status: 200, slot: "green", version: "1.0.0"})
	sick, _, _ := scripted(t, answer{status: 503, slot: "blue", version: "1.1.0"})
	tests := []struct {
		name string
		url  string
		want Answer
	}{
		{"healthy", healthy.URL, Answer{Healthy: true, HTTPStatus: 200, Status: "ok", Slot: "blue", Version: "1.1.0", From: "blue", Checks: map[string]string{"config": "ok"}}},
		{"answered by the other slot", wrongSlot.URL, Answer{Reason: ReasonWrongSlot, HTTPStatus: 200, Status: "ok", Slot: "green", Version: "1.0.0", From: "green", Checks: map[string]string{"config": "ok"}}},
		{"unhealthy", sick.URL, Answer{Reason: ReasonUnhealthy, HTTPStatus: 503, Status: "fail", Slot: "blue", Version: "1.1.0", From: "blue", Checks: map[string]string{"config": "fail"}}},
		{"refused", "http://" + closedPort(t), Answer{Reason: ReasonUnreachable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Probe(context.Background(), HealthConfig{URL: tt.url, Slot: "blue", Headers: map[string]string{"X-Slotless-Slot": "blue"}, RequestTimeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			got.Detail = ""
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if v, _ := seen.Load("X-Slotless-Slot"); v != "blue" {
		t.Errorf("X-Slotless-Slot: got %v, want blue", v)
	}
}

// TestGateErrorSaysWhoAnswered: a "no" carries the status of the answer it rests on and the
// slot that answer proves it came from (X-Slot, else the health body's slot), and nothing
// when the answer was the gateway's own or never came, so a release can blame a slot only
// for what it did.
func TestGateErrorSaysWhoAnswered(t *testing.T) {
	tests := []struct {
		name   string
		url    func(t *testing.T) string
		status int
		from   string
	}{
		{"the slot unhealthy", func(t *testing.T) string {
			srv, _, _ := scripted(t, answer{status: 503, slot: "blue", version: "1.1.0"})
			return srv.URL
		}, 503, "blue"},
		{"the other slot", func(t *testing.T) string {
			srv, _, _ := scripted(t, answer{status: 200, slot: "green", version: "1.0.0"})
			return srv.URL
		}, 200, "green"},
		{"the body's slot without X-Slot", func(t *testing.T) string {
			srv, _, _ := scripted(t, answer{status: 500, slot: "blue", xslot: "none", version: "1.1.0"})
			return srv.URL
		}, 500, "blue"},
		{"the gateway's 401", func(t *testing.T) string {
			srv, _, _ := scripted(t, answer{status: 401, xslot: "none", raw: `{"statusCode":401,"message":"Access denied due to invalid subscription key."}`})
			return srv.URL
		}, 401, ""},
		{"the gateway's 502", func(t *testing.T) string {
			srv, _, _ := scripted(t, answer{status: 502, xslot: "none", raw: "Bad Gateway"})
			return srv.URL
		}, 502, ""},
		{"no answer", func(t *testing.T) string { return "http://" + closedPort(t) }, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Health(context.Background(), HealthConfig{URL: tt.url(t), Slot: "blue", Successes: 1, Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond}, nil)
			var ge *GateError
			if !errors.As(err, &ge) {
				t.Fatalf("got %v, want a gate error", err)
			}
			if ge.HTTPStatus != tt.status || ge.From != tt.from {
				t.Errorf("got status %d from %q, want %d from %q (%v)", ge.HTTPStatus, ge.From, tt.status, tt.from, err)
			}
		})
	}
}

// TestProbeMarkerLeavesTheAppAlone: the sample app, the one that gets deployed, answers the
// health contract and its routes the same with the marker a release adds to every request it
// sends through the gateway (its router matches paths, and no handler reads the parameter).
func TestProbeMarkerLeavesTheAppAlone(t *testing.T) {
	base := startApp(t, "SLOT_NAME=green", "APP_VERSION=1.2.0")
	if _, err := Health(context.Background(), HealthConfig{
		URL: MarkProbe(base + "/api/health"), Slot: "green", ExpectVersion: "1.2.0",
		Successes: 1, Interval: 20 * time.Millisecond, Timeout: 5 * time.Second,
	}, nil); err != nil {
		t.Errorf("health gate on the marked URL: %v", err)
	}
	for _, path := range []string{"/api/orders", "/api/orders/42", "/api/orders?page=2"} {
		plain, marked := get(t, base+path), get(t, MarkProbe(base+path))
		if plain.status != http.StatusOK || marked.status != plain.status || marked.slot != plain.slot || marked.orderID != plain.orderID {
			t.Errorf("GET %s: got %+v marked, %+v plain; want the same 200", path, marked, plain)
		}
	}
}

// routeAnswer is what a test reads of one answer of the sample app's orders route.
type routeAnswer struct {
	status        int
	slot, orderID string
}

func get(t *testing.T, url string) routeAnswer {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Slot    string `json:"slot"`
		OrderID string `json:"orderId"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return routeAnswer{status: resp.StatusCode, slot: body.Slot, orderID: body.OrderID}
}
