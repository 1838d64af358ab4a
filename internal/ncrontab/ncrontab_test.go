package ncrontab

import (
	"testing"
	"time"
)

func TestParseAndWithin(t *testing.T) {
	cases := []struct {
		expr   string
		ok     bool
		minute bool
		period time.Duration
	}{
		{"0 */1 * * * *", true, true, time.Minute},
		{"*/5 * * * * *", true, true, 5 * time.Second},
		{"0,30 * * * * *", true, true, 30 * time.Second},
		{"10,50 * * * * *", true, true, 40 * time.Second},
		{"0 */2 * * * *", true, false, 0},
		{"0 * 9-17 * * *", true, false, 0},
		{"0 * * * * 1-5", true, false, 0},
		{"0 * * * Jan *", true, false, 0},
		{"*/1 * * * *", false, false, 0},
		{"0 0 */1 * * * *", false, false, 0},
		{"61 * * * * *", false, false, 0},
		{"@every 1m", false, false, 0},
	}
	for _, c := range cases {
		s, err := Parse(c.expr)
		if (err == nil) != c.ok {
			t.Errorf("Parse(%q): err %v, want ok %v", c.expr, err, c.ok)
			continue
		}
		if err != nil {
			continue
		}
		if got := s.Within(time.Minute); got != c.minute {
			t.Errorf("%q Within(1m) = %v, want %v", c.expr, got, c.minute)
		}
		if got := s.Period(); got != c.period {
			t.Errorf("%q Period() = %s, want %s", c.expr, got, c.period)
		}
	}
}

func TestNextIsUTCAndStrictlyAfter(t *testing.T) {
	s, err := Parse("0 */1 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	cases := []struct{ from, want time.Time }{
		{at, at.Add(time.Minute)},
		{at.Add(-time.Nanosecond), at},
		{at.Add(30 * time.Second), at.Add(time.Minute)},
		{at.In(time.FixedZone("x", 3600)), at.Add(time.Minute)},
	}
	for _, c := range cases {
		if got := s.Next(c.from); !got.Equal(c.want) {
			t.Errorf("Next(%s) = %s, want %s", c.from, got, c.want)
		}
	}
}
