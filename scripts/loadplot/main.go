// Command loadplot draws a load run recorded by scripts/loadrun.sh as an
// SVG: the monitor's resident set over the run, and the messages per second
// the simulator sent and the monitor handled, with the run's marks (monitor
// started, ready, load done) as vertical lines.
//
//	go run ./scripts/loadplot -households 100000 -o docs/load-100k.svg /tmp/mem/new/samples.txt
//
// Each input line starts with a Unix time in seconds, then a kind:
//
//	1796281906.14 rss 52724                  the resident set, in KiB (VmRSS)
//	1796281910.03 load 5s  sim 2026-03-02 08:04  sent 52224  10410 msg/s  handled 50190  10005 msg/s
//	1796281905.98 mark ready
//
// A load line is a progress line of `eldersafe simulate --load`; its rates
// are over the 5 s before it. Its summary lines (no rate after the count)
// are skipped.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

func main() {
	out := flag.String("o", "", "write the SVG here (default: stdout)")
	households := flag.Int("households", 0, "households in the run: also label the resident set per household")
	title := flag.String("title", "", "the chart's title (default: from the file name)")
	flag.Parse()
	if err := run(flag.Args(), *out, *households, *title); err != nil {
		fmt.Fprintln(os.Stderr, "loadplot:", err)
		os.Exit(1)
	}
}

func run(args []string, out string, households int, title string) error {
	if len(args) != 1 {
		return fmt.Errorf("want one samples file, got %d arguments", len(args))
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	if title == "" {
		title = "Load run: " + args[0]
	}
	svg := plot(r, households, title)
	if out == "" {
		_, err = os.Stdout.Write(svg)
		return err
	}
	return os.WriteFile(out, svg, 0o644)
}

// point is a value at a time, in seconds since the run's first sample.
type point struct{ t, v float64 }

type mark struct {
	t    float64
	text string
}

// samples is a parsed run.
type samples struct {
	rss           []point // KiB
	sent, handled []point // messages per second
	marks         []mark
	end           float64 // the last sample's time
}

func parse(rd io.Reader) (samples, error) {
	var s samples
	type line struct {
		t      float64
		kind   string
		fields []string
		rest   string
		n      int
	}
	var lines []line
	sc := bufio.NewScanner(rd)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 3 {
			return s, fmt.Errorf("line %d: want a time, a kind and a value: %q", n, text)
		}
		t, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return s, fmt.Errorf("line %d: time: %w", n, err)
		}
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(text, fields[0])), fields[1]))
		lines = append(lines, line{t, fields[1], fields[2:], rest, n})
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if len(lines) == 0 {
		return s, fmt.Errorf("no samples")
	}
	// Lines from the sampler and the simulator interleave by a few
	// milliseconds; time runs from the earliest.
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].t < lines[j].t })
	t0 := lines[0].t
	for _, l := range lines {
		t := l.t - t0
		s.end = t
		switch l.kind {
		case "rss":
			kb, err := strconv.ParseFloat(l.fields[0], 64)
			if err != nil || len(l.fields) != 1 {
				return s, fmt.Errorf("line %d: want rss KiB: %q", l.n, l.rest)
			}
			s.rss = append(s.rss, point{t, kb})
		case "load":
			sent, okSent := rate(l.fields, "sent")
			if !okSent {
				continue // a summary line
			}
			s.sent = append(s.sent, point{t, sent})
			if handled, ok := rate(l.fields, "handled"); ok {
				s.handled = append(s.handled, point{t, handled})
			}
		case "mark":
			s.marks = append(s.marks, mark{t, l.rest})
		default:
			return s, fmt.Errorf("line %d: unknown kind %q (want rss, load or mark)", l.n, l.kind)
		}
	}
	return s, nil
}

// rate finds "WORD count rate msg/s" in a progress line's fields and
// returns the rate.
func rate(fields []string, word string) (float64, bool) {
	for i := 0; i+3 < len(fields); i++ {
		if fields[i] == word && fields[i+3] == "msg/s" {
			v, err := strconv.ParseFloat(fields[i+2], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) that
// divides [0, most] into about n intervals.
func niceStep(most float64, n int) float64 {
	if most <= 0 {
		return 1
	}
	raw := most / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// Chart geometry, in SVG pixels.
const (
	width, left, right = 900, 80, 90
	panelH, gap, top   = 220, 70, 60
	plotW              = width - left - right
	height             = top + 2*panelH + gap + 50
)

func plot(s samples, households int, title string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))

	minutes := s.end / 60
	xStep := niceStep(max(minutes, 1), 10)
	xMax := math.Ceil(max(minutes, 1)/xStep) * xStep
	x := func(t float64) float64 { return left + t/60/xMax*plotW }

	// Top: the resident set, in MB; per household on the right.
	mostMB := 1.0
	for _, p := range s.rss {
		mostMB = max(mostMB, p.v*1024/1e6)
	}
	var peak point
	for _, p := range s.rss {
		if p.v > peak.v {
			peak = p
		}
	}
	yStep := niceStep(mostMB, 5)
	yMax := math.Ceil(mostMB/yStep) * yStep
	y0 := float64(top)
	yRSS := func(mb float64) float64 { return y0 + panelH - mb/yMax*panelH }
	axes(&b, y0, xMax, xStep, yMax, yStep, "resident set (MB)", func(v float64) string {
		if households == 0 {
			return ""
		}
		return fmt.Sprintf("%.2f KiB", v*1e6/float64(households)/1024)
	})
	if households > 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end" fill="#555">per household</text>`+"\n", width-5, y0-8)
	}
	line(&b, s.rss, x, func(kb float64) float64 { return yRSS(kb * 1024 / 1e6) }, "#1565c0")
	// The peak and the last sample, said above the panel rather than
	// beside their points, where the marks' labels are.
	if n := len(s.rss); n > 0 {
		perHousehold := func(kb float64) string {
			if households == 0 {
				return ""
			}
			return fmt.Sprintf(" (%.2f KiB a household)", kb/float64(households))
		}
		last := s.rss[n-1]
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1565c0">resident set: peak %.0f MB%s at %.1f min; last %.0f MB%s</text>`+"\n",
			left, top-8, peak.v*1024/1e6, perHousehold(peak.v), peak.t/60, last.v*1024/1e6, perHousehold(last.v))
	}

	// Bottom: messages per second.
	mostRate := 1.0
	for _, p := range append(append([]point(nil), s.sent...), s.handled...) {
		mostRate = max(mostRate, p.v)
	}
	rStep := niceStep(mostRate, 5)
	rMax := math.Ceil(mostRate/rStep) * rStep
	y1 := float64(top + panelH + gap)
	yRate := func(v float64) float64 { return y1 + panelH - v/rMax*panelH }
	axes(&b, y1, xMax, xStep, rMax, rStep, "messages/s", nil)
	line(&b, s.sent, x, yRate, "#ef6c00")
	line(&b, s.handled, x, yRate, "#2e7d32")
	legend := []struct{ color, label string }{{"#ef6c00", "sent by the simulator"}, {"#2e7d32", "handled by the monitor"}}
	for i, l := range legend {
		lx := left + 200 + i*220
		fmt.Fprintf(&b, `<rect x="%d" y="%.0f" width="10" height="10" fill="%s"/><text x="%d" y="%.0f">%s</text>`+"\n", lx, y1-18, l.color, lx+14, y1-9, l.label)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">minutes since the monitor started</text>`+"\n", left+plotW/2, height-12)

	// Before the simulator's first progress line it builds its households
	// and, in scripts/loadrun.sh, provisions them through the monitor's API.
	if len(s.sent) > 0 && x(s.sent[0].t) > left+120 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" fill="#555">before the first message</text>`+"\n", (left+x(s.sent[0].t))/2, y1+panelH/2)
	}

	// Marks across both panels; marks closer than a label's height share
	// one label.
	for i := 0; i < len(s.marks); {
		j, texts := i, []string{}
		for ; j < len(s.marks) && x(s.marks[j].t)-x(s.marks[i].t) < 12; j++ {
			mx := x(s.marks[j].t)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.0f" stroke="#888" stroke-dasharray="4 3"/>`+"\n", mx, top, mx, y1+panelH)
			texts = append(texts, s.marks[j].text)
		}
		mx := x(s.marks[i].t) - 3
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#555" font-size="10" transform="rotate(-90 %.1f %d)" text-anchor="end">%s</text>`+"\n",
			mx, top+4, mx, top+4, html.EscapeString(strings.Join(texts, ", ")))
		i = j
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// axes draws a panel's frame, grid and labels from the top y; right, if
// set, labels each horizontal grid line on the right as well.
func axes(b *strings.Builder, y, xMax, xStep, yMax, yStep float64, label string, right func(float64) string) {
	fmt.Fprintf(b, `<rect x="%d" y="%.0f" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", left, y, plotW, panelH)
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		gy := y + panelH - v/yMax*panelH
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, gy, left+plotW, gy)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, gy+4, strconv.FormatFloat(v, 'f', -1, 64))
		if right != nil {
			if r := right(v); r != "" {
				fmt.Fprintf(b, `<text x="%d" y="%.1f" fill="#555">%s</text>`+"\n", left+plotW+6, gy+4, r)
			}
		}
	}
	for v := 0.0; v <= xMax+xStep/2; v += xStep {
		gx := left + v/xMax*plotW
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", gx, y+panelH+16, strconv.FormatFloat(v, 'f', -1, 64))
	}
	fmt.Fprintf(b, `<text x="%d" y="%.0f" transform="rotate(-90 %d %.0f)" text-anchor="middle">%s</text>`+"\n", 18, y+panelH/2, 18, y+panelH/2, html.EscapeString(label))
}

func line(b *strings.Builder, ps []point, x, y func(float64) float64, color string) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="`, color)
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%.1f,%.1f", x(p.t), y(p.v))
	}
	b.WriteString(`"/>` + "\n")
}
