package report

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// BenchmarkReport24h reports a day-long release (10% → 50% → 100%, eight hours each, an
// analysis every 10 s: 8,640 analyses, a 4.5 MB record) from the record's bytes, as slotless
// report does. The target is under 1 s for each report on the 2-core machines (see
// docs/performance.md).
func BenchmarkReport24h(b *testing.B) {
	raw := encode(b, synthetic([]int{10, 50, 100}, 8*time.Hour, 10*time.Second, 0))
	b.Logf("record: %d bytes", len(raw))
	for _, bb := range []struct {
		name   string
		render func(io.Writer, []byte) error
	}{
		{"html", func(w io.Writer, raw []byte) error {
			rec, err := Load(bytes.NewReader(raw))
			if err != nil {
				return err
			}
			return HTML(w, rec)
		}},
		{"markdown", func(w io.Writer, raw []byte) error {
			rec, err := Load(bytes.NewReader(raw))
			if err != nil {
				return err
			}
			return Markdown(w, rec, ChartMermaid)
		}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				if err := bb.render(&out, raw); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.Len()), "bytes/report")
		})
	}
}
