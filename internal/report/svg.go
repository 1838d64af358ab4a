package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"
)

// The charts' geometry, in SVG user units (the page scales them to its width).
const (
	chartW, chartH                       = 880, 240
	padLeft, padRight, padTop, padBottom = 60, 20, 30, 34
)

// series is one line of a chart.
type series struct {
	Name  string
	Class string // canary, stable, threshold, traffic
	// Step draws the line as steps (a value holds until the next), for traffic.
	Step   bool
	Points []xy
}

type xy struct {
	At time.Time
	V  float64
}

// dot marks one analysis's verdict on a chart.
type dot struct {
	At      time.Time
	V       float64
	Verdict string
	Title   string
}

// chart is one time chart of the report. Its x axis is the run, t0 to t1, for every chart, so
// they line up under each other.
type chart struct {
	ID, Title, Unit string
	t0, t1          time.Time
	YMax            float64
	Series          []series
	Dots            []dot
	Marks           []mark
	// Empty is said inside the chart when it has no data.
	Empty string
}

func (c chart) x(t time.Time) float64 {
	span := c.t1.Sub(c.t0).Seconds()
	return padLeft + t.Sub(c.t0).Seconds()/span*(chartW-padLeft-padRight)
}

func (c chart) y(v float64) float64 {
	if v > c.YMax {
		v = c.YMax
	}
	return padTop + (1-v/c.YMax)*(chartH-padTop-padBottom)
}

// svg writes the chart as an inline SVG element.
func (c chart) svg(b *strings.Builder) {
	if c.YMax <= 0 || math.IsNaN(c.YMax) {
		c.YMax = 1
	}
	fmt.Fprintf(b, `<svg id="%s" class="chart" role="img" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg">`, c.ID, chartW, chartH, chartW, chartH)
	fmt.Fprintf(b, `<title>%s</title>`, html.EscapeString(c.Title))
	fmt.Fprintf(b, `<text class="ctitle" x="%d" y="18">%s</text>`, padLeft, html.EscapeString(c.Title))
	c.axes(b)
	if len(c.Series) == 0 && c.Empty != "" {
		fmt.Fprintf(b, `<text class="empty" x="%d" y="%d">%s</text>`, chartW/2, chartH/2, html.EscapeString(c.Empty))
	}
	for _, m := range c.Marks {
		x := c.x(m.At)
		fmt.Fprintf(b, `<line class="mark %s" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>`, m.Class, x, x, padTop, chartH-padBottom)
		// A label near the right edge goes left of its line, so it is not cut off.
		lx, anchor := x+3, "start"
		if x > chartW-padRight-90 {
			lx, anchor = x-3, "end"
		}
		fmt.Fprintf(b, `<text class="mlabel %s" x="%.1f" y="%d" text-anchor="%s">%s</text>`, m.Class, lx, padTop+10, anchor, html.EscapeString(m.Label))
	}
	for _, s := range c.Series {
		c.line(b, s)
	}
	for _, d := range c.Dots {
		fmt.Fprintf(b, `<circle class="v-%s" cx="%.1f" cy="%.1f" r="3.5"><title>%s</title></circle>`, d.Verdict, c.x(d.At), c.y(d.V), html.EscapeString(d.Title))
	}
	c.legend(b)
	b.WriteString(`</svg>`)
}

func (c chart) line(b *strings.Builder, s series) {
	if len(s.Points) == 0 {
		return
	}
	fmt.Fprintf(b, `<polyline class="s-%s" points="`, s.Class)
	buf := make([]byte, 0, 32)
	prevY := 0.0
	for i, p := range s.Points {
		x, y := c.x(p.At), c.y(p.V)
		if s.Step && i > 0 {
			buf = appendXY(buf[:0], x, prevY)
			b.Write(buf)
		}
		buf = appendXY(buf[:0], x, y)
		b.Write(buf)
		prevY = y
	}
	if s.Step {
		buf = appendXY(buf[:0], c.x(c.t1), prevY)
		b.Write(buf)
	}
	b.WriteString(`"/>`)
}

func appendXY(buf []byte, x, y float64) []byte {
	buf = strconv.AppendFloat(buf, x, 'f', 1, 64)
	buf = append(buf, ',')
	buf = strconv.AppendFloat(buf, y, 'f', 1, 64)
	return append(buf, ' ')
}

func (c chart) axes(b *strings.Builder) {
	bottom := chartH - padBottom
	fmt.Fprintf(b, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, padLeft, chartW-padRight, bottom, bottom)
	fmt.Fprintf(b, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, padLeft, padLeft, padTop, bottom)
	for i := 0; i <= 4; i++ {
		v := c.YMax * float64(i) / 4
		y := c.y(v)
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartW-padRight, y, y)
		fmt.Fprintf(b, `<text class="ytick" x="%d" y="%.1f">%s</text>`, padLeft-6, y+4, html.EscapeString(tick(v, c.Unit)))
	}
	for i := 0; i <= 6; i++ {
		t := c.t0.Add(time.Duration(float64(c.t1.Sub(c.t0)) * float64(i) / 6))
		fmt.Fprintf(b, `<text class="xtick" x="%.1f" y="%d">%s</text>`, c.x(t), bottom+16, elapsed(c.t0, t))
	}
}

func (c chart) legend(b *strings.Builder) {
	x := chartW - padRight
	for i := len(c.Series) - 1; i >= 0; i-- {
		s := c.Series[i]
		w := 26 + 7*len(s.Name)
		x -= w
		fmt.Fprintf(b, `<line class="s-%s" x1="%d" x2="%d" y1="14" y2="14"/>`, s.Class, x, x+18)
		fmt.Fprintf(b, `<text class="legend" x="%d" y="18">%s</text>`, x+22, html.EscapeString(s.Name))
	}
}

// tick labels an axis value in the chart's unit.
func tick(v float64, unit string) string {
	switch unit {
	case "%":
		return strconv.FormatFloat(v, 'g', 4, 64) + "%"
	case "ms":
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// niceMax rounds a chart's largest value up to a round axis maximum, at least floor.
func niceMax(v, floor float64) float64 {
	if v < floor || math.IsNaN(v) {
		v = floor
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	// Multiples whose quarters are round, for the four grid lines.
	for _, m := range []float64{1, 2, 4, 10} {
		if m*mag >= v {
			return m * mag
		}
	}
	return 10 * mag
}
