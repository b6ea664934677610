package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// writePlots writes one SVG line chart per growth series into dir: raw and
// outbound against X (in the order the rows ran, evenly spaced).
func writePlots(dir string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var series []string
	by := map[string][]Result{}
	for _, r := range results {
		if r.Series == "" || r.Skipped != "" || r.Error != "" {
			continue
		}
		if by[r.Series] == nil {
			series = append(series, r.Series)
		}
		by[r.Series] = append(by[r.Series], r)
	}
	for _, name := range series {
		path := filepath.Join(dir, fileName(name)+".svg")
		if err := os.WriteFile(path, []byte(svgChart(name, by[name])), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

func svgChart(title string, rows []Result) string {
	const w, h, left, bottom, top, right = 480.0, 280.0, 60.0, 40.0, 30.0, 20.0
	top_ := 0.0
	for _, r := range rows {
		top_ = math.Max(top_, math.Max(r.Raw, r.Outbound))
	}
	if top_ == 0 {
		top_ = 1
	}
	x := func(i int) float64 {
		if len(rows) == 1 {
			return left + (w-left-right)/2
		}
		return left + float64(i)*(w-left-right)/float64(len(rows)-1)
	}
	y := func(v float64) float64 { return h - bottom - v/top_*(h-bottom-top) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="11">`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%g" y="18" font-size="13">%s</text>`+"\n", left, escape(title))
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", left, top, left, h-bottom)
	fmt.Fprintf(&b, `<text x="4" y="%g">%s</text>`+"\n", y(top_)+4, num(top_))
	fmt.Fprintf(&b, `<text x="4" y="%g">0</text>`+"\n", h-bottom+4)
	for i, r := range rows {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", x(i), h-bottom+16, escape(r.X))
	}
	for _, side := range []struct {
		name, color string
		v           func(Result) float64
	}{
		{"raw", "#888", func(r Result) float64 { return r.Raw }},
		{"outbound", "#c33", func(r Result) float64 { return r.Outbound }},
	} {
		var pts []string
		for i, r := range rows {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(side.v(r))))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(i), y(side.v(r)), side.color)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", side.color, strings.Join(pts, " "))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" fill="#888">raw</text><text x="%g" y="%g" fill="#c33">outbound</text>`+"\n", w-110, top, w-70, top)
	b.WriteString("</svg>\n")
	return b.String()
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
