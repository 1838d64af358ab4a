// Command functionapp benchmarks the slotless custom handler: binary and zip
// size, time from process start to the first 200 on /api/health, and API
// throughput relative to a bare net/http hello-world server measured in the
// same run. Everything runs on 127.0.0.1 with bounded loops.
//
//	go run ./bench/functionapp                      # builds a native binary itself
//	make -C functionapp bench                       # uses build/app and dist/functionapp.zip
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Targets the project holds the function app to.
const (
	targetZipBytes    = 8 << 20
	targetStartup     = 20 * time.Millisecond
	targetThroughputX = 0.9
)

type options struct {
	bin         string
	zip         string
	starts      int
	rounds      int
	duration    time.Duration
	concurrency int
	maxRequests int64
	strict      bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "function app binary to run; empty builds ./functionapp natively")
	flag.StringVar(&o.zip, "zip", "", "deployment zip to measure; empty skips the zip size")
	flag.IntVar(&o.starts, "starts", 30, "process starts to time")
	flag.IntVar(&o.rounds, "rounds", 15, "alternating throughput rounds per server")
	flag.DurationVar(&o.duration, "duration", 500*time.Millisecond, "length of one throughput round")
	flag.IntVar(&o.concurrency, "c", 16, "concurrent load connections")
	flag.Int64Var(&o.maxRequests, "max-requests", 2_000_000, "upper bound on requests in one round")
	flag.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed")
	bare := flag.Bool("bare-server", false, "internal: run the hello-world baseline server")
	port := flag.Int("port", 0, "internal: port for -bare-server")
	flag.Parse()

	if *bare {
		if err := serveBare(*port); err != nil {
			fmt.Fprintf(os.Stderr, "bare server: %v\n", err)
			os.Exit(1)
		}
		return
	}
	ok, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	if !ok && o.strict {
		os.Exit(1)
	}
}

// serveBare is the baseline: the smallest useful net/http server.
func serveBare(port int) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "Hello, World!\n")
	})
	return http.ListenAndServe(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), mux)
}

func run(o options) (bool, error) {
	allOK := true
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		allOK = false
		return "FAIL"
	}

	bin := o.bin
	if bin == "" {
		dir, err := os.MkdirTemp("", "functionapp-bench-")
		if err != nil {
			return false, fmt.Errorf("temp dir: %w", err)
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "app")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=bench", "-o", bin, "./functionapp")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return false, fmt.Errorf("build functionapp (run from the repo root): %w\n%s", err, out)
		}
	}

	fmt.Printf("functionapp bench  %s/%s  %d CPU  %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())

	st, err := os.Stat(bin)
	if err != nil {
		return false, fmt.Errorf("stat binary: %w", err)
	}
	fmt.Printf("binary size        %8.2f MB  (%d bytes)\n", mb(st.Size()), st.Size())
	if o.zip != "" {
		zs, err := os.Stat(o.zip)
		if err != nil {
			return false, fmt.Errorf("stat zip: %w", err)
		}
		fmt.Printf("zip size           %8.2f MB  (%d bytes)  target <= %.0f MB  %s\n",
			mb(zs.Size()), zs.Size(), mb(targetZipBytes), verdict(zs.Size() <= targetZipBytes))
	} else {
		fmt.Println("zip size           skipped (no -zip)")
	}

	startups, err := measureStartup(bin, o.starts)
	if err != nil {
		return false, fmt.Errorf("startup: %w", err)
	}
	slices.Sort(startups)
	med := startups[len(startups)/2]
	p90 := startups[len(startups)*9/10]
	fmt.Printf("start to first 200 median %v  p90 %v  min %v  max %v  (n=%d)  target <= %v  %s\n",
		ms(med), ms(p90), ms(startups[0]), ms(startups[len(startups)-1]), len(startups), targetStartup, verdict(med <= targetStartup))

	tp, err := measureThroughput(bin, o)
	if err != nil {
		return false, fmt.Errorf("throughput: %w", err)
	}
	fmt.Printf("throughput bare    %8.0f req/s median  rounds %v\n", tp.bare, rounds(tp.bareRounds))
	fmt.Printf("throughput app     %8.0f req/s median  rounds %v  (GET /api/orders, c=%d, %v x %d)\n",
		tp.app, rounds(tp.appRounds), o.concurrency, o.duration, o.rounds)
	fmt.Printf("throughput ratio   %8.3f  median of per-round ratios %v  target >= %.1f  %s\n",
		tp.ratio, ratios(tp.ratios), targetThroughputX, verdict(tp.ratio >= targetThroughputX))
	if tp.bareCPU > 0 && tp.appCPU > 0 {
		fmt.Printf("server CPU/request bare %v  app %v  (bare/app %.3f; from /proc, not a target)\n",
			tp.bareCPU, tp.appCPU, float64(tp.bareCPU)/float64(tp.appCPU))
	}
	fmt.Printf("errors             %8d  target 0  %s\n", tp.errors, verdict(tp.errors == 0))
	return allOK, nil
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func ratios(rs []float64) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = strconv.FormatFloat(r, 'f', 2, 64)
	}
	return out
}

func rounds(rs []float64) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = strconv.FormatFloat(r, 'f', 0, 64)
	}
	return out
}

// freePort asks the kernel for an unused loopback port. Another process could
// take it before the child binds; the retry in measureStartup covers that.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proc is a child server process.
type proc struct {
	cmd  *exec.Cmd
	port int
}

func startApp(bin string, port int) (*proc, error) {
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"SLOT_NAME=green",
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port),
		"LOG_LEVEL=info",
	}
	cmd.Stdout = io.Discard
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return &proc{cmd: cmd, port: port}, nil
}

func startBare(port int) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.Command(self, "-bare-server", "-port", strconv.Itoa(port))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bare server: %w", err)
	}
	return &proc{cmd: cmd, port: port}, nil
}

// stop sends SIGTERM and waits, killing the child if it does not exit in 30 s.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) && !ee.Exited() {
			return nil // killed by our own signal: the bare server has no handler
		}
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return errors.New("child did not exit within 30s of SIGTERM")
	}
}

// waitReady polls url until it answers 200 and returns when it did.
func waitReady(client *http.Client, url string, deadline time.Time) (time.Time, error) {
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return time.Time{}, fmt.Errorf("%s not ready: %w", url, err)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// measureStartup times exec to first 200 on /api/health, n times. Each poll
// uses a new connection, as the host's first request after a cold start does.
func measureStartup(bin string, n int) ([]time.Duration, error) {
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   time.Second,
	}
	var out []time.Duration
	for i := 0; i < n; i++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		p, err := startApp(bin, port)
		if err != nil {
			return nil, err
		}
		ready, err := waitReady(client, fmt.Sprintf("http://127.0.0.1:%d/api/health", port), start.Add(5*time.Second))
		if serr := p.stop(); err == nil && serr != nil {
			err = fmt.Errorf("stop: %w", serr)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ready.Sub(start))
	}
	return out, nil
}

type throughput struct {
	bare, app             float64
	bareRounds, appRounds []float64
	ratios                []float64
	ratio                 float64
	errors                int64
	// CPU time each server used per request, from /proc; zero where /proc
	// is missing. Unlike req/s it hardly moves when other processes share
	// the machine, so it shows whether a low ratio is the app or the noise.
	bareCPU, appCPU time.Duration
}

// measureThroughput runs short back-to-back rounds on the two servers and
// takes the median of the per-round ratios: drift on the machine (other
// processes, thermal limits) then hits both members of a pair alike, which
// a ratio of overall averages would not cancel. The order inside a pair
// alternates so neither server always runs on a warmer machine.
func measureThroughput(bin string, o options) (throughput, error) {
	var tp throughput
	bp, err := freePort()
	if err != nil {
		return tp, err
	}
	ap, err := freePort()
	if err != nil {
		return tp, err
	}
	bare, err := startBare(bp)
	if err != nil {
		return tp, err
	}
	defer bare.stop()
	app, err := startApp(bin, ap)
	if err != nil {
		return tp, err
	}
	defer app.stop()

	bareURL := fmt.Sprintf("http://127.0.0.1:%d/", bp)
	appURL := fmt.Sprintf("http://127.0.0.1:%d/api/orders", ap)
	ready := &http.Client{Timeout: time.Second}
	if _, err := waitReady(ready, bareURL, time.Now().Add(10*time.Second)); err != nil {
		return tp, err
	}
	if _, err := waitReady(ready, appURL, time.Now().Add(10*time.Second)); err != nil {
		return tp, err
	}

	// Warm both servers (and the client's connection pool) before timing.
	warm := o
	warm.duration = o.duration / 4
	for _, u := range []string{bareURL, appURL} {
		if _, _, _, err := load(u, "", warm); err != nil {
			return tp, err
		}
	}

	var bareCPU, appCPU time.Duration
	var bareN, appN int64
	for r := 0; r < o.rounds; r++ {
		var bareRPS, appRPS float64
		runBare := func() error {
			c0 := procCPU(bare.cmd.Process.Pid)
			rps, errs, n, err := load(bareURL, "", o)
			bareRPS, tp.errors = rps, tp.errors+errs
			bareCPU += procCPU(bare.cmd.Process.Pid) - c0
			bareN += n
			return err
		}
		runApp := func() error {
			c0 := procCPU(app.cmd.Process.Pid)
			rps, errs, n, err := load(appURL, "green", o)
			appRPS, tp.errors = rps, tp.errors+errs
			appCPU += procCPU(app.cmd.Process.Pid) - c0
			appN += n
			return err
		}
		first, second := runBare, runApp
		if r%2 == 1 {
			first, second = runApp, runBare
		}
		if err := first(); err != nil {
			return tp, err
		}
		if err := second(); err != nil {
			return tp, err
		}
		tp.bareRounds = append(tp.bareRounds, bareRPS)
		tp.appRounds = append(tp.appRounds, appRPS)
		tp.ratios = append(tp.ratios, appRPS/bareRPS)
	}
	tp.bare = median(tp.bareRounds)
	tp.app = median(tp.appRounds)
	tp.ratio = median(tp.ratios)
	if bareN > 0 && appN > 0 {
		tp.bareCPU = bareCPU / time.Duration(bareN)
		tp.appCPU = appCPU / time.Duration(appN)
	}
	return tp, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// load sends GETs to url from o.concurrency keep-alive connections until the
// round's duration or request cap is reached. A response counts as an error
// unless it is 200, has a readable body and, when wantSlot is set, carries
// that X-Slot.
func load(url, wantSlot string, o options) (rps float64, errs, served int64, err error) {
	tr := &http.Transport{MaxIdleConns: o.concurrency, MaxIdleConnsPerHost: o.concurrency}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var ok, bad, issued atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && issued.Add(1) <= o.maxRequests {
				resp, err := client.Get(url)
				if err != nil {
					if ctx.Err() == nil {
						bad.Add(1)
					}
					continue
				}
				_, cerr := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || cerr != nil || (wantSlot != "" && resp.Header.Get("X-Slot") != wantSlot) {
					bad.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return float64(ok.Load()) / elapsed.Seconds(), bad.Load(), ok.Load() + bad.Load(), nil
}

// procCPU returns the user+system CPU time of pid from /proc/<pid>/stat, or 0
// where that file does not exist (non-Linux).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields overall, in clock ticks (USER_HZ, 100 on Linux).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}
