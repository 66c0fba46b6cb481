package trust

import (
	"fmt"
	"html"
	"strings"
)

// Chart draws the report's visit tasks as an SVG: for each rule that sent a
// worker, a bar as configured and one for the fixed rules alone, each split
// into true and false visits.
func Chart(r Report) []byte {
	type pair struct {
		name              string
		configured, fixed Row
	}
	fixed := map[string]Row{}
	for _, row := range r.Fixed.Rules {
		fixed[row.Rule] = row
	}
	var rows []pair
	seen := map[string]bool{}
	for _, row := range r.Configured.Rules {
		seen[row.Rule] = true
		rows = append(rows, pair{row.Rule, row, fixed[row.Rule]})
	}
	for _, row := range r.Fixed.Rules {
		if !seen[row.Rule] {
			rows = append(rows, pair{row.Rule, Row{}, row})
		}
	}
	visit := rows[:0]
	for _, p := range rows {
		if p.configured.Sent+p.fixed.Sent > 0 && (p.configured.Visit || p.fixed.Visit) {
			visit = append(visit, p)
		}
	}
	most := 1
	for _, p := range visit {
		most = max(most, p.configured.Sent, p.fixed.Sent)
	}
	const (
		left, barW, barH, gap, top = 250, 520, 16, 14, 64
		width                      = left + barW + 140
	)
	height := top + len(visit)*(2*barH+gap) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">Workers sent per rule: %s, %d households, %g days, seed %d</text>`+"\n",
		html.EscapeString(r.Scenario), r.Households, r.Days, r.Seed)
	fmt.Fprintf(&b, `<text x="10" y="42">false visits per household per month: %.3f as configured, %.3f fixed rules alone</text>`+"\n",
		r.Configured.FalseVisitsPerHouseholdMonth, r.Fixed.FalseVisitsPerHouseholdMonth)
	legend := []struct{ color, label string }{{"#2e7d32", "true (an incident was there)"}, {"#c62828", "false"}}
	for i, l := range legend {
		x := left + i*200
		fmt.Fprintf(&b, `<rect x="%d" y="50" width="10" height="10" fill="%s"/><text x="%d" y="59">%s</text>`+"\n", x, l.color, x+14, l.label)
	}
	bar := func(y int, label string, row Row, faded bool) {
		opacity := "1"
		if faded {
			opacity = "0.55"
		}
		wTrue := barW * row.True / most
		wFalse := barW * row.False / most
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#555">%s</text>`+"\n", left-6, y+12, label)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#2e7d32" opacity="%s"/>`+"\n", left, y, wTrue, barH, opacity)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#c62828" opacity="%s"/>`+"\n", left+wTrue, y, wFalse, barH, opacity)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%d true, %d false</text>`+"\n", left+wTrue+wFalse+6, y+12, row.True, row.False)
	}
	y := top + 10
	for _, p := range visit {
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+12, html.EscapeString(p.name))
		bar(y, "configured", p.configured, false)
		bar(y+barH, "fixed", p.fixed, true)
		y += 2*barH + gap
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}
