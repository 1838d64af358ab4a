package stack

import (
	"strings"
	"time"

	"github.com/slotless/slotless/internal/ncrontab"
)

// DefaultWatcherSchedule fires the watcher at second 0 of every minute: the issue's "at least
// every minute", and Flex Consumption bills an execution by its own time, so a tick a minute
// costs little more than a tick every five.
const DefaultWatcherSchedule = "0 */1 * * * *"

// WatcherScheduleAllowed is what watcherSchedule accepts.
const WatcherScheduleAllowed = "an NCRONTAB expression of six fields, {second} {minute} {hour} {day} {month} {day-of-week}, firing at least once every minute of every hour of every day, its occurrences at most 60 s apart, such as `0 */1 * * * *` or `*/30 * * * * *`"

// MaxWatcherPeriod is the longest a watcher's schedule may leave between two runs.
const MaxWatcherPeriod = time.Minute

// watcherSchedule reads watcherSchedule: a timer that fires less often than every minute
// would leave a failing canary its traffic for longer than the bound the docs give.
func (p *parser) watcherSchedule(key string) string {
	raw, ok := p.src(key)
	if !ok {
		return DefaultWatcherSchedule
	}
	expr := strings.Join(strings.Fields(raw), " ")
	s, err := ncrontab.Parse(expr)
	switch {
	case err != nil:
		p.fail(key, raw, WatcherScheduleAllowed+" ("+err.Error()+")")
		return DefaultWatcherSchedule
	case !s.Within(MaxWatcherPeriod):
		p.fail(key, raw, WatcherScheduleAllowed+" (this one leaves more than 60 s between some runs)")
		return DefaultWatcherSchedule
	}
	return expr
}
