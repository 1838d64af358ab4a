//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// BenchmarkShift times what a release stage pays for one traffic step: `slotless shift` (the
// binary, the pulumi CLI, the program hosted in-process, a preview and a targeted up), against
// the stand-in provider. Each iteration shifts to 10% and rolls back. Run it with
// `make bench-shift`.
func BenchmarkShift(b *testing.B) {
	u := deployed(b)
	b.ResetTimer()
	var shift, rollback time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		u.sh("slotless shift --stack dev --slot blue --to 10 --force")
		mid := time.Now()
		u.sh("slotless rollback --stack dev --slot blue")
		shift += mid.Sub(start)
		rollback += time.Since(mid)
	}
	b.ReportMetric(shift.Seconds()/float64(b.N), "s/shift")
	b.ReportMetric(rollback.Seconds()/float64(b.N), "s/rollback")
}
