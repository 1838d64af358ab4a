package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// child is the built binary running as a separate process.
type child struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	addr string
	done chan error
}

// startChild runs exe with exactly env (no inherited settings, so the
// developer's shell cannot change the outcome) and waits for its listening
// line to learn the port it picked.
func startChild(t *testing.T, exe string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append([]string{"FUNCTIONS_CUSTOMHANDLER_PORT=0"}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: got %v, want nil", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start: got %v, want nil", err)
	}
	c := &child{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = c.logs.Write(append(append([]byte(nil), line...), '\n'))
			var m map[string]any
			if json.Unmarshal(line, &m) == nil && m["msg"] == "listening" {
				if a, ok := m["addr"].(string); ok {
					select {
					case addrc <- a:
					default:
					}
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		// Only reached with the child still running when a test failed early.
		_ = cmd.Process.Kill()
	})
	select {
	case c.addr = <-addrc:
	case err := <-c.done:
		t.Fatalf("child exited before listening: %v\n%s", err, c.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("child did not log a listening line\n%s", c.logs.String())
	}
	return c
}

// wait returns the child's exit error, bounded so a hung child fails the test.
func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Fatalf("child did not exit after the signal\n%s", c.logs.String())
		return nil
	}
}

func getJSON(t *testing.T, url string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: got %v, want nil", url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s body: got %v, want JSON", url, err)
	}
	return resp, m
}

func TestProcessIdentity(t *testing.T) {
	exe := buildExe(t, "app", nil, "-X main.version=9.9.9-baked")

	out, err := exec.Command(exe, "-version").Output()
	if err != nil {
		t.Fatalf("-version: got %v, want nil", err)
	}
	if got, want := strings.TrimSpace(string(out)), "9.9.9-baked"; got != want {
		t.Errorf("-version: got %v, want %v", got, want)
	}

	tests := []struct {
		name        string
		env         []string
		wantVersion string
		wantSlot    string
		wantStatus  int
	}{
		{"ldflags version", []string{"SLOT_NAME=green"}, "9.9.9-baked", "green", http.StatusOK},
		{"APP_VERSION overrides", []string{"SLOT_NAME=blue", "APP_VERSION=10.0.0"}, "10.0.0", "blue", http.StatusOK},
		{"no SLOT_NAME is unhealthy", nil, "9.9.9-baked", "", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startChild(t, exe, tt.env...)
			resp, body := getJSON(t, "http://"+c.addr+"/api/health")
			if got := resp.StatusCode; got != tt.wantStatus {
				t.Errorf("health status: got %v, want %v", got, tt.wantStatus)
			}
			if got := resp.Header.Get("X-Version"); got != tt.wantVersion {
				t.Errorf("X-Version: got %v, want %v", got, tt.wantVersion)
			}
			if got := resp.Header.Get("X-Slot"); got != tt.wantSlot {
				t.Errorf("X-Slot: got %v, want %v", got, tt.wantSlot)
			}
			if got := body["version"]; got != tt.wantVersion {
				t.Errorf("body version: got %v, want %v", got, tt.wantVersion)
			}
			if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("SIGTERM: got %v, want nil", err)
			}
			if err := c.wait(t); err != nil {
				t.Errorf("exit: got %v, want status 0", err)
			}
		})
	}
}

// TestProcessSignalDrainsInFlight is the end-to-end shutdown check: a real
// process, a request held open by the debug delay, a real signal in the middle
// of it. The request must complete with 200 and the process must exit 0.
func TestProcessSignalDrainsInFlight(t *testing.T) {
	exe := buildExe(t, "app", nil, "-X main.version=1.0.0-sig")

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			c := startChild(t, exe, "SLOT_NAME=green", "LOG_LEVEL=debug", "DEBUG_DELAY_ALLOWED=1", "SHUTDOWN_TIMEOUT=20s")

			type result struct {
				status int
				body   map[string]any
				err    error
			}
			resc := make(chan result, 1)
			go func() {
				resp, err := http.Get("http://" + c.addr + "/api/orders/77?delay=700ms")
				if err != nil {
					resc <- result{err: err}
					return
				}
				defer resp.Body.Close()
				var m map[string]any
				err = json.NewDecoder(resp.Body).Decode(&m)
				resc <- result{status: resp.StatusCode, body: m, err: err}
			}()

			// Signal only once the child says the request is being served.
			waitFor(t, func() bool { return strings.Contains(c.logs.String(), "debug delay started") })
			if err := c.cmd.Process.Signal(sig); err != nil {
				t.Fatalf("signal: got %v, want nil", err)
			}

			res := <-resc
			if res.err != nil {
				t.Fatalf("in-flight request: got %v, want nil\n%s", res.err, c.logs.String())
			}
			if got, want := res.status, http.StatusOK; got != want {
				t.Errorf("in-flight status: got %v, want %v", got, want)
			}
			if got, want := res.body["orderId"], "77"; got != want {
				t.Errorf("in-flight orderId: got %v, want %v", got, want)
			}

			err := c.wait(t)
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Errorf("exit code: got %v, want 0\n%s", ee.ExitCode(), c.logs.String())
			} else if err != nil {
				t.Errorf("wait: got %v, want nil", err)
			}
			logs := c.logs.String()
			for _, want := range []string{"shutdown started", "shutdown complete"} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs: got %q, want a %q line", logs, want)
				}
			}
			// The shutdown order in the log proves the request ended after the
			// signal arrived, i.e. it really was drained.
			if i, j := strings.Index(logs, "shutdown started"), strings.Index(logs, `"path":"/api/orders/77"`); i < 0 || j < i {
				t.Errorf("log order: got shutdown at %v and request end at %v, want the request after the shutdown start", i, j)
			}
		})
	}
}
