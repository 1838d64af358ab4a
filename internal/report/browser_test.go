//go:build browser

package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestReportInBrowser renders the HTML report of the engine suite's healthy, rolled-back and
// resumed records (testdata) in headless Chromium and asserts on the page as drawn: every chart
// is an SVG element with a size and lines in it, the verdict is visible at the top, nothing
// was requested beyond the page, and the console stayed clean. It keeps a screenshot of each
// page in $SLOTLESS_ARTIFACTS (make test: .cache/artifacts).
//
// CHROMIUM names the browser; make test sets it, fetching Debian's package when the machine has
// none (.ci/fetch-chromium).
func TestReportInBrowser(t *testing.T) {
	browser := os.Getenv("CHROMIUM")
	if browser == "" {
		t.Fatal("CHROMIUM is not set: run make browser, which fetches Debian's Chromium when it is missing")
	}
	artifacts := os.Getenv("SLOTLESS_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 900),
		// This machine's network is closed: Chromium's own background connections would fail
		// at every start, many at a time.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		// No crash reporter: it has nowhere to send reports here.
		chromedp.Flag("disable-breakpad", true), chromedp.Flag("disable-crash-reporter", true),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	// One browser for every page: each page opens in a tab of its own, so no page waits on
	// another browser's start or exit, nor shares its profile folder with one still exiting.
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if _, err := chromedp.Run(browserCtx, chromedp.Evaluate[int]("1")); err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}

	// The checks themselves: a page that logs an error and fetches a file is caught.
	t.Run("a page that breaks the rules", func(t *testing.T) {
		page := filepath.Join(t.TempDir(), "bad.html")
		bad := `<!doctype html><p id="verdict">x</p><img src="file:///nonexistent.png"><script>console.error("boom")</script>`
		if err := os.WriteFile(page, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		got := render(t, browserCtx, "file://"+page, filepath.Join(t.TempDir(), "bad.png"))
		all := strings.Join(got.Problems, "\n")
		for _, want := range []string{`console.error "boom"`, "request: file:///nonexistent.png"} {
			if !strings.Contains(all, want) {
				t.Errorf("problems: got %q, want %q among them", got.Problems, want)
			}
		}
	})

	for _, name := range []string{"healthy", "aborted", "resumed"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := Load(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(t.TempDir(), name+".html")
			var html bytes.Buffer
			if err := HTML(&html, rec); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(page, html.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			want, _ := headline(rec, newView(rec).analyses)
			got := render(t, browserCtx, "file://"+page, filepath.Join(artifacts, "report-"+name+".png"))

			if len(got.Problems) > 0 {
				t.Errorf("console errors, exceptions or requests: %v", got.Problems)
			}
			if got.Verdict.Text != want || got.Verdict.Height < 20 || got.Verdict.Top > 120 || got.Verdict.Hidden {
				t.Errorf("verdict: got %+v, want %q visible at the top", got.Verdict, want)
			}
			if len(got.Charts) != 5 {
				t.Fatalf("charts: got %d, want 5", len(got.Charts))
			}
			for _, c := range got.Charts {
				if c.Width < 600 || c.Height < 120 || c.Lines == 0 || c.Texts < 5 {
					t.Errorf("chart %s: got %+v, want at least 600×120 with lines and labels", c.ID, c)
				}
			}
			if traffic := got.Charts[0]; traffic.ID != "traffic" || traffic.Polylines == 0 || traffic.Dots == 0 {
				t.Errorf("traffic chart: got %+v, want its line and a dot per analysis", traffic)
			}
			if name == "aborted" && !got.RollbackMarked {
				t.Error("the aborted release's charts do not mark the rollback")
			}
		})
	}
}

// drawn is what the page looked like once rendered.
type drawn struct {
	Verdict struct {
		Text        string
		Top, Height float64
		Hidden      bool
	}
	Charts []struct {
		ID                            string
		Width, Height                 float64
		Lines, Polylines, Dots, Texts int
	}
	RollbackMarked bool
	// Problems are console errors, uncaught exceptions and requests for anything but the page.
	Problems []string
}

const measure = `(() => {
  const v = document.getElementById('verdict');
  const r = v.getBoundingClientRect();
  const s = getComputedStyle(v);
  return {
    Verdict: { Text: v.innerText.trim(), Top: r.top, Height: r.height, Hidden: s.visibility !== 'visible' || s.display === 'none' },
    Charts: [...document.querySelectorAll('svg.chart')].map(c => {
      const b = c.getBoundingClientRect();
      return { ID: c.id, Width: b.width, Height: b.height,
        Lines: c.querySelectorAll('polyline, line').length, Polylines: c.querySelectorAll('polyline').length,
        Dots: c.querySelectorAll('circle').length, Texts: c.querySelectorAll('text').length };
    }),
    RollbackMarked: document.querySelectorAll('line.mark.rollback').length > 0,
  };
})()`

// render opens url in a new tab of the browser in browserCtx.
func render(t *testing.T, browserCtx context.Context, url, screenshot string) drawn {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	var mu sync.Mutex
	var problems []string
	// chromedp enables the runtime, log and network domains of every page it opens.
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, fmt.Sprintf("console.%s %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			if e.Request.URL != url {
				problems = append(problems, "request: "+e.Request.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("open a tab for %s: %v", url, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("verdict"))); err != nil {
		t.Fatalf("render %s: %v", url, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[drawn](measure))
	if err != nil {
		t.Fatalf("measure %s: %v", url, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", url, err)
	}
	if err := os.WriteFile(screenshot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", screenshot)
	mu.Lock()
	got.Problems = problems
	mu.Unlock()
	if raw, err := json.Marshal(got); err == nil {
		t.Logf("drawn: %s", raw)
	}
	return got
}
