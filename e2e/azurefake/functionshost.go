package azurefake

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// FunctionsHost runs a function app's deployed custom-handler package as the Functions host
// does, with its timer trigger fired on a clock the test drives. What it mirrors, inconvenient
// parts first:
//
// The custom handler (MicrosoftDocs azure-docs, azure-functions/functions-custom-handlers.md,
// "Application structure", "Configuration", "Request payload", "Response payload"):
//   - the package last deployed through the app's deployment host (Store.PackageOf) is
//     extracted; host.json's customHandler.description names the executable
//     (defaultExecutablePath, relative to the package), its arguments and workingDirectory, and
//     each <function>/function.json its bindings;
//   - the process sees the app's settings as its environment, FUNCTIONS_CUSTOMHANDLER_PORT
//     (the port it must listen on) and, for its managed identities, IDENTITY_ENDPOINT and
//     IDENTITY_HEADER (IdentityEndpoint): nothing of the test's own environment, so a setting
//     the stack forgot is missing here too. Platform carries what stands in for Azure's public
//     endpoints (the ARM facade, the Log Analytics query API, the HTTPS proxy and its CA);
//   - a non-HTTP invocation is POST /<function name> with {"Data":{"<binding name>":
//     <trigger value>},"Metadata":{...}}; the handler answers {"Outputs","Logs","ReturnValue"};
//     a status other than 2xx is a failed invocation.
//
// The timer trigger (functions-bindings-timer.md, "Configuration", "Usage", "Scale-out",
// "Retry behavior"; Azure/azure-webjobs-sdk-extensions TimerListener.cs):
//   - schedule is a six-field NCRONTAB expression, or "%NAME%" for the app setting NAME;
//   - only one execution runs at a time across all instances ("only a single instance of a
//     timer-triggered function is run across all instances": the listener is a singleton and
//     awaits each execution before it sets its next timer), so an occurrence that comes due
//     while an execution runs is not run beside it: it runs once, as soon as that execution
//     ends (the next interval is computed from the time the run ended and is then negative,
//     "adjust the interval back up 1 Tick ... for an immediate invocation"), with IsPastDue
//     false, and any later occurrences that also passed during the run collapse into it;
//   - with useMonitor (default true for schedules of a minute or more, false for schedules
//     that fire more than once a minute) the schedule's status (Last, Next, LastUpdated) is
//     kept across restarts and passed as ScheduleStatus; an app that comes back after
//     occurrences passed while it was down finds Next in the past and runs one catch-up
//     execution at once with IsPastDue true, not one per missed occurrence ("check to see if
//     we've missed an occurrence since we last started. If we have, invoke it immediately");
//     without it, missed occurrences are lost and ScheduleStatus is null;
//   - a failed execution is not retried; the schedule goes on;
//   - runOnStartup runs the function each time the host starts.
//
// The clock is the test's: Fire moves it to the next occurrence, Miss moves it past n
// occurrences while the app is down. Nothing here sleeps on a schedule: an execution is over
// when the handler's HTTP response is. Not modelled: the storage lock's lease, time zones
// (WEBSITE_TIME_ZONE; UTC only), TimeSpan schedules, functionTimeout, and the delay before
// an idle Flex app's first instance starts.
type FunctionsHost struct {
	// Store is the cloud the app, its settings, its identities and its package are in.
	Store *Store
	// App is the function app's name.
	App string
	// Platform is the environment Azure gives every process besides the app settings: here,
	// the endpoints, proxy and CA that stand in for Azure's public ones.
	Platform map[string]string
	// Dir is where the package is extracted.
	Dir string
	// Output receives the handler's stdout and stderr (the host's log stream).
	Output io.Writer

	mu       sync.Mutex
	now      time.Time
	started  bool
	proc     *exec.Cmd
	exited   chan struct{}
	port     int
	identity *httptest.Server
	fn       timerFunction
	status   ScheduleStatus
	// running is the execution in progress, and deferred the one an occurrence that came due
	// during it will run when it ends.
	running, deferred *Execution
}

// ScheduleStatus is what schedule monitoring keeps (TimerInfo.ScheduleStatus).
type ScheduleStatus struct {
	Last        time.Time `json:"Last"`
	Next        time.Time `json:"Next"`
	LastUpdated time.Time `json:"LastUpdated"`
}

// TimerInfo is the timer trigger's value, as the host passes it.
type TimerInfo struct {
	Schedule       map[string]any  `json:"Schedule"`
	ScheduleStatus *ScheduleStatus `json:"ScheduleStatus"`
	IsPastDue      bool            `json:"IsPastDue"`
}

// Execution is one invocation of the timer function.
type Execution struct {
	// At is the test clock's time of the execution; Timer is what the handler was passed.
	At    time.Time
	Timer TimerInfo
	// Status is the handler's HTTP status; Outputs, Logs and ReturnValue its answer.
	Status      int
	Outputs     map[string]any
	Logs        []string
	ReturnValue json.RawMessage
	// Took is the invocation's wall time, from the request to the handler's answer.
	Took time.Duration
	Err  error

	done chan struct{}
}

// Wait is the execution's end.
func (e *Execution) Wait() *Execution { <-e.done; return e }

// Succeeded reports a 2xx answer.
func (e *Execution) Succeeded() bool { return e.Err == nil && e.Status/100 == 2 }

// timerFunction is the package's timer-triggered function.
type timerFunction struct {
	name, binding string
	schedule      cron.Schedule
	monitor       bool
	runOnStartup  bool
}

// NewFunctionsHost is the host of app with its clock at now; Start loads and runs it.
func NewFunctionsHost(store *Store, app string, now time.Time, platform map[string]string, dir string) *FunctionsHost {
	return &FunctionsHost{Store: store, App: app, Platform: platform, Dir: dir, now: now.UTC(), Output: io.Discard}
}

// Now is the test clock.
func (h *FunctionsHost) Now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

// Status is the schedule's status as the monitor holds it.
func (h *FunctionsHost) Status() ScheduleStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// Start starts the app: the package, its settings and its handler process, and the schedule's
// status as the monitor kept it. With the schedule past due (monitored) it runs the catch-up
// execution, and with runOnStartup one execution, both returned.
func (h *FunctionsHost) Start(ctx context.Context) (*Execution, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.startLocked(ctx)
}

func (h *FunctionsHost) startLocked(ctx context.Context) (*Execution, error) {
	if h.started {
		return nil, nil
	}
	settings, idents, err := h.site()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(h.Dir, "wwwroot")
	_ = os.RemoveAll(root)
	exe, args, workdir, fn, err := loadPackage(h.Store.PackageOf(h.App), root, settings)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", h.App, err)
	}
	h.fn = fn
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + h.Dir, "WEBSITE_SITE_NAME=" + h.App}
	for k, v := range h.Platform {
		env = append(env, k+"="+v)
	}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	if idents {
		secret := make([]byte, 16)
		_, _ = rand.Read(secret)
		ie := IdentityEndpoint{Store: h.Store, App: h.App, Header: hex.EncodeToString(secret)}
		h.identity = httptest.NewServer(ie)
		env = append(env, "IDENTITY_ENDPOINT="+h.identity.URL+"/msi/token", "IDENTITY_HEADER="+ie.Header)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env = append(env, "FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port))
	cmd := exec.Command(exe, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = workdir, env, h.Output, h.Output
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("app %s: start the custom handler %s: %w", h.App, exe, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	h.proc, h.exited, h.port, h.started = cmd, exited, port, true
	if err := waitListening(ctx, port, exited); err != nil {
		h.stopLocked()
		return nil, fmt.Errorf("app %s: the custom handler never listened on FUNCTIONS_CUSTOMHANDLER_PORT %d: %w", h.App, port, err)
	}
	// The listener's start: the monitor's status, or a fresh one.
	if !h.fn.monitor || h.status.Next.IsZero() {
		h.status = ScheduleStatus{Next: h.fn.schedule.Next(h.now)}
	}
	switch {
	case h.fn.monitor && h.status.Next.Before(h.now):
		return h.execLocked(true), nil
	case h.fn.runOnStartup:
		return h.execLocked(false), nil
	}
	return nil, nil
}

// Fire moves the clock to the timer's next occurrence and runs it, starting the app first if
// it is down (then the catch-up execution, if the monitor finds occurrences missed, is the
// one returned). It returns once the execution has ended.
func (h *FunctionsHost) Fire(ctx context.Context) (*Execution, error) {
	e, err := h.Go(ctx)
	if err != nil {
		return nil, err
	}
	return e.Wait(), nil
}

// Go is Fire without waiting for the execution to end. While an execution runs, the next
// occurrence comes due beside it: the clock moves to it and the execution returned is the one
// that runs when the running one ends; occurrences that come due before that collapse into it.
func (h *FunctionsHost) Go(ctx context.Context) (*Execution, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started {
		e, err := h.startLocked(ctx)
		if err != nil || e != nil {
			return e, err
		}
	}
	if h.running != nil {
		if next := h.fn.schedule.Next(h.running.At); next.After(h.now) {
			h.now = next
		}
		if h.deferred == nil {
			h.deferred = &Execution{done: make(chan struct{})}
		}
		return h.deferred, nil
	}
	if h.status.Next.After(h.now) {
		h.now = h.status.Next
	}
	return h.execLocked(false), nil
}

// Miss stops the app (its instances are gone: a platform restart, an outage) while n of the
// timer's occurrences pass; the next Fire starts it again.
func (h *FunctionsHost) Miss(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopLocked()
	t := h.now
	for i := 0; i < n; i++ {
		t = h.fn.schedule.Next(t)
	}
	h.now = t
}

// Stop stops the app's handler process.
func (h *FunctionsHost) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopLocked()
}

func (h *FunctionsHost) stopLocked() {
	for h.running != nil {
		// The instance goes when its executions have ended.
		r := h.running
		h.mu.Unlock()
		<-r.done
		h.mu.Lock()
	}
	if h.proc != nil && h.proc.Process != nil {
		_ = h.proc.Process.Kill()
		<-h.exited
	}
	if h.identity != nil {
		h.identity.Close()
	}
	h.proc, h.identity, h.started = nil, nil, false
}

// execLocked starts an execution at the clock's time; when it ends, the schedule's status
// moves on as the listener moves it, and an execution deferred meanwhile starts.
func (h *FunctionsHost) execLocked(pastDue bool) *Execution {
	return h.runLocked(&Execution{done: make(chan struct{})}, pastDue)
}

func (h *FunctionsHost) runLocked(e *Execution, pastDue bool) *Execution {
	e.At = h.now
	e.Timer = TimerInfo{Schedule: map[string]any{"AdjustForDST": true}, IsPastDue: pastDue}
	if h.fn.monitor {
		st := h.status
		e.Timer.ScheduleStatus = &st
	}
	h.running = e
	port, fn := h.port, h.fn
	go func() {
		invoke(e, port, fn)
		h.mu.Lock()
		adjusted := e.At
		if !pastDue && h.status.Next.After(e.At) {
			adjusted = h.status.Next
		}
		h.status = ScheduleStatus{Last: adjusted, Next: h.fn.schedule.Next(adjusted), LastUpdated: adjusted}
		h.running = nil
		d := h.deferred
		h.deferred = nil
		if d != nil {
			h.runLocked(d, false)
		}
		h.mu.Unlock()
		close(e.done)
	}()
	return e
}

// invoke POSTs one timer invocation to the handler.
func invoke(e *Execution, port int, fn timerFunction) {
	timer, _ := json.Marshal(e.Timer)
	body, _ := json.Marshal(map[string]any{
		"Data": map[string]json.RawMessage{fn.binding: timer},
		"Metadata": map[string]any{"sys": map[string]any{
			"MethodName": fn.name, "UtcNow": e.At.Format(time.RFC3339Nano), "RandGuid": randomGUID(),
		}},
	})
	start := time.Now()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/%s", port, fn.name), "application/json", bytes.NewReader(body))
	e.Took = time.Since(start)
	if err != nil {
		e.Err = fmt.Errorf("invoke %s: %w", fn.name, err)
		return
	}
	defer resp.Body.Close()
	e.Status = resp.StatusCode
	var out struct {
		Outputs     map[string]any
		Logs        []string
		ReturnValue json.RawMessage
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		e.Err = fmt.Errorf("invoke %s: the handler answered %d with %q, not the custom handler's response payload: %w", fn.name, resp.StatusCode, raw, err)
		return
	}
	e.Outputs, e.Logs, e.ReturnValue = out.Outputs, out.Logs, out.ReturnValue
}

func randomGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// site reads the app's settings and whether it has user-assigned identities.
func (h *FunctionsHost) site() (map[string]string, bool, error) {
	c, err := h.Store.Load()
	if err != nil {
		return nil, false, err
	}
	for _, s := range c.ByType("azure-native:web:WebApp") {
		if !strings.EqualFold(s.Name(), h.App) {
			continue
		}
		settings := map[string]string{}
		sc, _ := s.Inputs["siteConfig"].(map[string]any)
		list, _ := sc["appSettings"].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			n, _ := m["name"].(string)
			v, _ := m["value"].(string)
			settings[n] = v
		}
		return settings, len(userAssignedOf(s)) > 0, nil
	}
	return nil, false, fmt.Errorf("no app %s", h.App)
}

// settingRef is a binding property that names an app setting.
var settingRef = regexp.MustCompile(`^%([^%]+)%$`)

// ncrontab parses the six fields of an NCRONTAB expression.
var ncrontab = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// loadPackage extracts the zip at pkg into root and reads its custom handler and its timer
// function.
func loadPackage(pkg, root string, settings map[string]string) (exe string, args []string, workdir string, fn timerFunction, err error) {
	z, err := zip.OpenReader(pkg)
	if err != nil {
		return "", nil, "", fn, fmt.Errorf("no deployed package (%w)", err)
	}
	defer z.Close()
	for _, f := range z.File {
		name := path.Clean(f.Name)
		if strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return "", nil, "", fn, fmt.Errorf("package entry %q is outside the package", f.Name)
		}
		dst := filepath.Join(root, filepath.FromSlash(name))
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return "", nil, "", fn, err
			}
			continue
		}
		if err := extract(f, dst); err != nil {
			return "", nil, "", fn, err
		}
	}
	var host struct {
		CustomHandler *struct {
			Description struct {
				DefaultExecutablePath string   `json:"defaultExecutablePath"`
				WorkingDirectory      string   `json:"workingDirectory"`
				Arguments             []string `json:"arguments"`
			} `json:"description"`
		} `json:"customHandler"`
	}
	if err := readJSON(filepath.Join(root, "host.json"), &host); err != nil {
		return "", nil, "", fn, err
	}
	if host.CustomHandler == nil || host.CustomHandler.Description.DefaultExecutablePath == "" {
		return "", nil, "", fn, errors.New("host.json has no customHandler.description.defaultExecutablePath")
	}
	d := host.CustomHandler.Description
	exe = filepath.Join(root, filepath.FromSlash(d.DefaultExecutablePath))
	workdir = filepath.Join(root, filepath.FromSlash(d.WorkingDirectory))
	dirs, _ := os.ReadDir(root)
	for _, dir := range dirs {
		var doc struct {
			Bindings []struct {
				Name, Type, Direction, Schedule string
				UseMonitor                      *bool `json:"useMonitor"`
				RunOnStartup                    bool  `json:"runOnStartup"`
			} `json:"bindings"`
		}
		if !dir.IsDir() || readJSON(filepath.Join(root, dir.Name(), "function.json"), &doc) != nil {
			continue
		}
		for _, b := range doc.Bindings {
			if !strings.EqualFold(b.Type, "timerTrigger") {
				continue
			}
			expr := b.Schedule
			if m := settingRef.FindStringSubmatch(expr); m != nil {
				v, ok := settings[m[1]]
				if !ok {
					return "", nil, "", fn, fmt.Errorf("%s/function.json: schedule %s names app setting %s, which the app does not have", dir.Name(), expr, m[1])
				}
				expr = v
			}
			sched, err := ncrontab.Parse(expr)
			if err != nil {
				return "", nil, "", fn, fmt.Errorf("%s/function.json: schedule %q: %w", dir.Name(), expr, err)
			}
			fn = timerFunction{name: dir.Name(), binding: b.Name, schedule: sched, runOnStartup: b.RunOnStartup}
			// useMonitor defaults to true for schedules of a minute or more between
			// occurrences, false for those that fire more than once a minute.
			t0 := sched.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			fn.monitor = sched.Next(t0).Sub(t0) >= time.Minute
			if b.UseMonitor != nil {
				fn.monitor = *b.UseMonitor
			}
		}
	}
	if fn.name == "" {
		return "", nil, "", fn, errors.New("the package has no timer-triggered function")
	}
	return exe, d.Arguments, workdir, fn, nil
}

func extract(f *zip.File, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	mode := f.Mode().Perm()
	if mode == 0 {
		mode = 0o644
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func readJSON(p string, v any) error {
	raw, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(p), err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitListening waits until the handler accepts connections on port, as the host waits for a
// custom handler before its first invocation, or until it exits.
func waitListening(ctx context.Context, port int, exited <-chan struct{}) error {
	backoff := time.Millisecond
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}
