package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/testkit"
)

// A run as scripts/loadrun.sh records it: the sampler's and the
// simulator's lines interleaved, slightly out of order.
const run1 = `1000.0 mark monitor started
1001.5 mark ready
1002.0 rss 100000
1007.0 rss 300000
1007.2 load 5s  sim 2026-03-02 08:04  sent 52224  10410 msg/s  handled 50190  10005 msg/s
1012.1 load 10s  sim 2026-03-02 08:09  sent 90000  7555 msg/s  handled 89000  7760 msg/s
1012.0 rss 2000000
1013.0 load sent 90000 device messages and 9 clock ticks in 11s (8181 msg/s), covering 9m of simulated time
1013.1 load the monitor handled 90000 of them (8181 msg/s over the run)
1060.0 mark load done
1120.0 rss 1500000
`

func TestParse(t *testing.T) {
	s, err := parse(strings.NewReader(run1))
	if err != nil {
		t.Fatal(err)
	}
	wantRSS := []point{{2, 100000}, {7, 300000}, {12, 2000000}, {120, 1500000}}
	if !equal(s.rss, wantRSS) {
		t.Errorf("rss = %v, want %v", s.rss, wantRSS)
	}
	// The summary lines carry no rate of an interval: skipped.
	if want := []point{{7.2, 10410}, {12.1, 7555}}; !equal(s.sent, want) {
		t.Errorf("sent = %v, want %v", s.sent, want)
	}
	if want := []point{{7.2, 10005}, {12.1, 7760}}; !equal(s.handled, want) {
		t.Errorf("handled = %v, want %v", s.handled, want)
	}
	if len(s.marks) != 3 || s.marks[1].text != "ready" || s.marks[2].text != "load done" || s.marks[2].t != 60 {
		t.Errorf("marks = %v", s.marks)
	}
	if s.end != 120 {
		t.Errorf("end = %g, want 120", s.end)
	}
}

func equal(a, b []point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if abs(a[i].t-b[i].t) > 1e-9 || a[i].v != b[i].v {
			return false
		}
	}
	return true
}

func abs(v float64) float64 { return max(v, -v) }

func TestParseRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"no time":      "rss 100\n",
		"unknown kind": "1000 cpu 5\n",
		"rss not kb":   "1000 rss lots\n",
		"rss two":      "1000 rss 5 6\n",
		"short":        "1000 rss\n",
	} {
		if _, err := parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: parsed %q", name, in)
		}
	}
}

func TestPlot(t *testing.T) {
	s, err := parse(strings.NewReader(run1))
	if err != nil {
		t.Fatal(err)
	}
	svg := plot(s, 1000, "a <run> & more")
	all, elements := testkit.SVG(t, svg)
	var polylines [][]point
	for _, el := range elements {
		if el.Name.Local == "polyline" {
			polylines = append(polylines, points(t, testkit.Attr(el, "points")))
		}
	}
	for _, want := range []string{
		"a <run> & more", "resident set (MB)", "messages/s", "load done",
		// Marks 1.5 s apart share a label.
		"monitor started, ready",
		// 2,000,000 KiB over 1,000 households, 12 s in.
		"peak 2048 MB (2000.00 KiB a household) at 0.2 min; last 1536 MB (1500.00 KiB a household)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the chart does not say %q:\n%s", want, all)
		}
	}
	// The resident set, sent and handled, each with its samples, all inside
	// the chart; the highest resident set is the highest point of its line.
	if len(polylines) != 3 || len(polylines[0]) != 4 || len(polylines[1]) != 2 || len(polylines[2]) != 2 {
		t.Fatalf("polylines = %v", polylines)
	}
	for _, pl := range polylines {
		for _, p := range pl {
			if p.t < left || p.t > width-right || p.v < top || p.v > height {
				t.Errorf("point %v outside the plot", p)
			}
		}
	}
	rss := polylines[0]
	for i, p := range rss {
		if i != 2 && p.v <= rss[2].v {
			t.Errorf("point %d (%v) is not below the peak %v", i, p, rss[2])
		}
	}
}

func points(t *testing.T, s string) []point {
	t.Helper()
	var ps []point
	for _, xy := range strings.Fields(s) {
		x, y, ok := strings.Cut(xy, ",")
		fx, errX := strconv.ParseFloat(x, 64)
		fy, errY := strconv.ParseFloat(y, 64)
		if !ok || errX != nil || errY != nil {
			t.Fatalf("bad point %q", xy)
		}
		ps = append(ps, point{fx, fy})
	}
	return ps
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct {
		most float64
		n    int
		want float64
	}{{100, 10, 10}, {2300, 5, 500}, {0.7, 5, 0.2}, {7, 10, 1}, {0, 5, 1}, {12, 10, 2}} {
		if got := niceStep(c.most, c.n); abs(got-c.want) > 1e-12 {
			t.Errorf("niceStep(%g, %d) = %g, want %g", c.most, c.n, got, c.want)
		}
	}
}
