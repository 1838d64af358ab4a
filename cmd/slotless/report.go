package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/report"
	"github.com/slotless/slotless/internal/rollout"
)

// reportOptions are the flags of slotless report.
type reportOptions struct {
	d                     deps
	html, markdown, chart string
	// id takes the record from the stack's history instead of a file.
	id, stack, dir, historyURL string
}

const reportLong = `Report draws a release from its record (slotless release --json, or the release.json that
release --report-dir writes): one sentence on how the release ended and why, then the release
slot's share of traffic over time with every shift, analysis verdict and rollback marked, the
canary's and the stable slot's failure rate and p95 at each analysis against their thresholds,
the probes, the warm-ups, and a table of every analysis.

--html writes one self-contained page: inline SVG, no script, nothing fetched, so it opens
offline and as a CI artifact. --markdown writes the same headline, a chart and a table of
analyses for a CI summary: --chart mermaid for GitHub job summaries, which render Mermaid, and
--chart text for the Azure DevOps summary tab, which does not. Without either flag the Markdown
goes to stdout.

--id takes the record from the stack's history instead (slotless history lists the ids): any
run's, a rollback's or a watcher's included, with --stack (and --history-url or
SLOTLESS_HISTORY_URL when the Pulumi backend is down).

A file that is empty, is not a slotless record, or comes from a newer slotless is refused with
exit 1, saying which.`

func newReportCmd(d deps) *cobra.Command {
	o := reportOptions{d: d}
	cmd := &cobra.Command{
		Use:   "report [RECORD.json | --id ID]",
		Short: "Draw a release from its record: an HTML page with charts, and Markdown for CI summaries",
		Long:  reportLong,
		Example: `  slotless report release.json --html release.html
  slotless report release.json --markdown - --chart mermaid >> "$GITHUB_STEP_SUMMARY"
  slotless report --stack dev --id 20261207T031500Z-rollback-3f9a1c2e --html rollback.html`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.id != "" && len(args) > 0:
				return usagef("report: --id %s and the file %s: want one of them", o.id, args[0])
			case o.id == "" && len(args) != 1:
				return usagef("report: want one argument, the record file (slotless release --json writes it), or --id")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.id != "" {
				return o.runID(cmd.Context(), cmd.OutOrStdout())
			}
			return o.run(args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.html, "html", "", "write the HTML report to this file")
	f.StringVar(&o.markdown, "markdown", "", "write the Markdown report to this file (- for stdout)")
	f.StringVar(&o.chart, "chart", string(report.ChartMermaid), "the Markdown's chart: mermaid (GitHub) or text (Azure DevOps)")
	f.StringVar(&o.id, "id", "", "take the record of this run from the stack's history (slotless history lists the ids)")
	stackFlags(cmd, &o.stack, &o.dir, "with --id: the stack whose history holds the run")
	historyFlag(cmd, &o.historyURL)
	return cmd
}

// runID draws the record of one run of the stack's history.
func (o reportOptions) runID(ctx context.Context, stdout io.Writer) error {
	chart := report.Chart(o.chart)
	if !slices.Contains(report.Charts, chart) {
		return usagef("report: --chart: %q is not one of %v", o.chart, report.Charts)
	}
	s, err := o.d.openHistoryStore(ctx, o.dir, o.stack, o.historyURL, os.Getenv)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	gctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	e, err := s.Get(gctx, o.id)
	if err != nil {
		return fmt.Errorf("report: --id: %w", err)
	}
	if len(e.Record) == 0 {
		return fmt.Errorf("report: --id %s: the entry keeps no record", o.id)
	}
	rec, err := report.Load(bytes.NewReader(e.Record))
	if err != nil {
		return fmt.Errorf("report: --id %s: %w", o.id, err)
	}
	markdown := o.markdown
	if o.html == "" && markdown == "" {
		markdown = "-"
	}
	return writeReports(rec, o.html, markdown, chart, stdout)
}

func (o reportOptions) run(path string, stdout io.Writer) error {
	chart := report.Chart(o.chart)
	if !slices.Contains(report.Charts, chart) {
		return usagef("report: --chart: %q is not one of %v", o.chart, report.Charts)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	rec, err := report.Load(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	markdown := o.markdown
	if o.html == "" && markdown == "" {
		markdown = "-"
	}
	return writeReports(rec, o.html, markdown, chart, stdout)
}

// writeReports writes rec's HTML report to htmlPath and its Markdown to mdPath ("-" for
// stdout), skipping an empty path. Each file is written whole or not at all.
func writeReports(rec rollout.Record, htmlPath, mdPath string, chart report.Chart, stdout io.Writer) error {
	var errs []error
	if htmlPath != "" {
		var b bytes.Buffer
		if err := report.HTML(&b, rec); err != nil {
			errs = append(errs, fmt.Errorf("report: HTML: %w", err))
		} else if err := writeFileAtomic(htmlPath, b.Bytes()); err != nil {
			errs = append(errs, err)
		}
	}
	if mdPath != "" {
		var b bytes.Buffer
		if err := report.Markdown(&b, rec, chart); err != nil {
			errs = append(errs, fmt.Errorf("report: Markdown: %w", err))
		} else if mdPath == "-" {
			if _, err := stdout.Write(b.Bytes()); err != nil {
				errs = append(errs, err)
			}
		} else if err := writeFileAtomic(mdPath, b.Bytes()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeFileAtomic writes data to path through a temporary file in the same folder, so a reader
// (a CI upload, a browser) never sees half a report.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return nil
}
