//go:build e2e

package e2e

import (
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The suite's scenarios run E2E_SLOTS at a time (make e2e sets it from E2E_PARALLEL), the
// longest first: the minute or two a long one spends in bakes, lags and its chain of updates
// then overlap the short ones, instead of trailing after them on an idle machine (longest
// processing time first). Go's -parallel cannot do this: it admits paused tests in whatever
// order their goroutines wake, so the longest scenario could start last. make e2e
// therefore lets every test start (-parallel above the suite's size) and parallel below holds
// each until it is admitted.

// defaultSlots is how many scenarios run at once without E2E_SLOTS: make e2e's E2E_PARALLEL.
const defaultSlots = 10

// settle is how long admission waits after the last scenario asked before admitting any: the
// paused tests all wake together, and the longest must be among the first admitted. Only
// the order depends on it, never a result.
const settle = 300 * time.Millisecond

var sched = newScheduler()

// scheduler admits scenarios to a fixed number of slots, the longest first.
type scheduler struct {
	mu      sync.Mutex
	free    int
	waiting []*ticket
	timer   *time.Timer
	settled bool
}

type ticket struct {
	takes time.Duration
	seq   int
	ok    chan struct{}
}

func newScheduler() *scheduler {
	slots := defaultSlots
	if n, err := strconv.Atoi(os.Getenv("E2E_SLOTS")); err == nil && n > 0 {
		slots = n
	}
	return &scheduler{free: slots}
}

// parallel marks t parallel and holds it until the scheduler admits it. takes is about how long
// the scenario ran in a whole suite on 2 cores; it orders admission and nothing else.
func parallel(t *testing.T, takes time.Duration) {
	t.Helper()
	t.Parallel()
	<-sched.enqueue(takes).ok
	admitted := time.Now()
	t.Cleanup(func() {
		// What to set takes to, from a whole suite's run (go test -v shows it).
		t.Logf("scenario ran %s from its admission (estimate %s)", time.Since(admitted).Round(time.Second), takes)
		sched.done()
	})
}

func (s *scheduler) enqueue(takes time.Duration) *ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	tk := &ticket{takes: takes, seq: len(s.waiting), ok: make(chan struct{})}
	s.waiting = append(s.waiting, tk)
	if s.settled {
		s.dispatch()
		return tk
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(settle, s.settleNow)
	} else {
		s.timer.Reset(settle)
	}
	return tk
}

func (s *scheduler) settleNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settled = true
	s.dispatch()
}

func (s *scheduler) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free++
	s.dispatch()
}

// dispatch admits waiting scenarios while slots are free, the longest first, then in the order
// they asked. The caller holds mu.
func (s *scheduler) dispatch() {
	for s.free > 0 && len(s.waiting) > 0 {
		best := 0
		for i, tk := range s.waiting {
			if b := s.waiting[best]; tk.takes > b.takes || (tk.takes == b.takes && tk.seq < b.seq) {
				best = i
			}
		}
		close(s.waiting[best].ok)
		s.waiting = append(s.waiting[:best], s.waiting[best+1:]...)
		s.free--
	}
}
