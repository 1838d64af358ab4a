// Package ncrontab reads the NCRONTAB expressions of an Azure Functions timer trigger: six
// fields, {second} {minute} {hour} {day} {month} {day-of-week}, as functions-bindings-timer.md
// ("NCRONTAB expressions") describes them. The stack validates the watcher's schedule with it,
// and the stand-in's scheduler fires a timer by it, so both read one expression the same way.
package ncrontab

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a parsed six-field expression.
type Schedule struct {
	Expr string
	spec *cron.SpecSchedule
}

// parser reads the six fields the Functions host reads: seconds first, then the five of a
// classic crontab, with names for months and days; no descriptors (@hourly), which NCRONTAB
// does not have.
var parser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Parse reads expr; it wants exactly six fields separated by spaces.
func Parse(expr string) (Schedule, error) {
	fields := strings.Fields(expr)
	if len(fields) != 6 {
		return Schedule{}, fmt.Errorf("%q has %d fields, want six: {second} {minute} {hour} {day} {month} {day-of-week}", expr, len(fields))
	}
	s, err := parser.Parse(strings.Join(fields, " "))
	if err != nil {
		return Schedule{}, fmt.Errorf("%q: %w", expr, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return Schedule{}, fmt.Errorf("%q is not a field expression", expr)
	}
	// The host runs a timer in UTC unless WEBSITE_TIME_ZONE says otherwise, which the
	// watcher's app does not set.
	spec.Location = time.UTC
	return Schedule{Expr: expr, spec: spec}, nil
}

// Next is the first occurrence strictly after t.
func (s Schedule) Next(t time.Time) time.Time { return s.spec.Next(t) }

// Within reports whether consecutive occurrences are never more than d apart, at any time of
// any day. Only a schedule that fires every minute of every hour of every day can be: the
// minute, hour, day, month and day-of-week fields must each allow every value; then the
// longest gap is between the seconds it fires at, the last of one minute to the first of the
// next included.
func (s Schedule) Within(d time.Duration) bool {
	full := func(bits uint64, lo, hi uint) bool {
		for v := lo; v <= hi; v++ {
			if bits&(1<<v) == 0 {
				return false
			}
		}
		return true
	}
	sp := s.spec
	if !full(sp.Minute, 0, 59) || !full(sp.Hour, 0, 23) || !full(sp.Dom, 1, 31) || !full(sp.Month, 1, 12) || !full(sp.Dow, 0, 6) {
		return false
	}
	var secs []int
	for v := 0; v < 60; v++ {
		if sp.Second&(1<<uint(v)) != 0 {
			secs = append(secs, v)
		}
	}
	if len(secs) == 0 {
		return false
	}
	gap := 60 - secs[len(secs)-1] + secs[0]
	for i := 1; i < len(secs); i++ {
		gap = max(gap, secs[i]-secs[i-1])
	}
	return time.Duration(gap)*time.Second <= d
}

// Period is the longest gap between two occurrences of a schedule that fires every minute
// (Within a minute); zero otherwise.
func (s Schedule) Period() time.Duration {
	for d := time.Second; d <= time.Minute; d += time.Second {
		if s.Within(d) {
			return d
		}
	}
	return 0
}
