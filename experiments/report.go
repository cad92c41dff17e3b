package experiments

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"
)

// Report builds a study's report.md in a folder, together with the files it links to:
// each figure as PNG and SVG, and the CSV of the data behind it.
type Report struct {
	dir   string
	md    strings.Builder
	files []string // files the report links to, relative to dir
}

// NewReport returns an empty report that writes to dir, creating it.
func NewReport(dir string) (*Report, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("experiments: create report folder: %w", err)
	}
	return &Report{dir: dir}, nil
}

// Heading adds a Markdown heading of the given level.
func (r *Report) Heading(level int, text string) {
	fmt.Fprintf(&r.md, "%s %s\n\n", strings.Repeat("#", level), text)
}

// Para adds a paragraph; format and args are as for fmt.Sprintf.
func (r *Report) Para(format string, args ...any) {
	fmt.Fprintf(&r.md, format, args...)
	r.md.WriteString("\n\n")
}

// Code adds a fenced code block.
func (r *Report) Code(lang, body string) {
	fmt.Fprintf(&r.md, "```%s\n%s\n```\n\n", lang, strings.TrimRight(body, "\n"))
}

// Table adds a Markdown table. align holds one of "l" or "r" per column.
func (r *Report) Table(header []string, align string, rows [][]string) {
	r.md.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for i := range header {
		if i < len(align) && align[i] == 'r' {
			r.md.WriteString("---:|")
		} else {
			r.md.WriteString("---|")
		}
	}
	r.md.WriteString("\n")
	for _, row := range rows {
		r.md.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	r.md.WriteString("\n")
}

// CSV writes name.csv with a header row and links it from the report.
func (r *Report) CSV(name, caption string, header []string, rows [][]string) error {
	if err := r.writeCSV(name, header, rows); err != nil {
		return err
	}
	fmt.Fprintf(&r.md, "%s: [%s.csv](%s.csv)\n\n", caption, name, name)
	return nil
}

func (r *Report) writeCSV(name string, header []string, rows [][]string) error {
	path := filepath.Join(r.dir, name+".csv")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("experiments: create data file: %w", err)
	}
	w := csv.NewWriter(f)
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("experiments: write %s: %w", path, err)
	}
	r.files = append(r.files, name+".csv")
	return f.Close()
}

// figure writes fig as name.png and name.svg and its data as name.csv, and embeds the PNG
// in the report with links to the SVG and the data.
func (r *Report) figure(name, caption string, fig figure, header []string, rows [][]string) error {
	if err := fig.save(r.dir, name); err != nil {
		return err
	}
	if err := r.writeCSV(name, header, rows); err != nil {
		return err
	}
	r.files = append(r.files, name+".png", name+".svg")
	fmt.Fprintf(&r.md, "![%s](%s.png)\n\n%s ([SVG](%s.svg), [data](%s.csv))\n\n", caption, name, caption, name, name)
	return nil
}

// Lines adds a line plot of series; the CSV has one row per point.
func (r *Report) Lines(name, title, xLabel, yLabel string, series []Series) error {
	p, err := linePlot(title, xLabel, yLabel, series)
	if err != nil {
		return err
	}
	return r.figure(name, title, plotFigure(p, 7*vg.Inch, 4.2*vg.Inch),
		[]string{"series", "x", "y", "ci95"}, seriesRows(series, nil))
}

// Dots adds a plot of one point with error bar per group and series; series i has Y[j]
// for groups[j].
func (r *Report) Dots(name, title, yLabel string, groups []string, series []Series) error {
	p, err := dotPlot(title, yLabel, groups, series)
	if err != nil {
		return err
	}
	return r.figure(name, title, plotFigure(p, 7*vg.Inch, 4.5*vg.Inch),
		[]string{"series", "group", "y", "ci95"}, seriesRows(series, groups))
}

// Panels adds a figure of line plots stacked vertically, one per panel, sharing the x axis
// label; the CSV names each panel's y label in its first column.
func (r *Report) Panels(name, title, xLabel string, yLabels []string, panels [][]Series) error {
	fig, err := panelsFigure(title, xLabel, yLabels, panels)
	if err != nil {
		return err
	}
	var rows [][]string
	for i, series := range panels {
		for _, row := range seriesRows(series, nil) {
			rows = append(rows, append([]string{yLabels[i]}, row...))
		}
	}
	return r.figure(name, title, fig, []string{"panel", "series", "x", "y", "ci95"}, rows)
}

// Heatmap adds a table of values drawn as coloured cells; see heatmapFigure.
func (r *Report) Heatmap(name, title, xLabel, yLabel, shadeLabel string, rows, cols []string, value, shade [][]float64, label [][]string) error {
	fig := heatmapFigure(title, xLabel, yLabel, shadeLabel, rows, cols, shade, label)
	var data [][]string
	for i, row := range rows {
		for j, col := range cols {
			data = append(data, []string{row, col, formatFloat(value[i][j]), formatFloat(shade[i][j])})
		}
	}
	return r.figure(name, title, fig, []string{yLabel, xLabel, "value", "shade"}, data)
}

// seriesRows returns the CSV rows of series: the series name, then the x value or the group
// name, y and the interval half-width.
func seriesRows(series []Series, groups []string) [][]string {
	var rows [][]string
	for _, s := range series {
		for j := range s.Y {
			x := ""
			if groups != nil {
				x = groups[j]
			} else {
				x = formatFloat(s.X[j])
			}
			ci := ""
			if s.Err != nil {
				ci = formatFloat(s.Err[j])
			}
			rows = append(rows, []string{s.Name, x, formatFloat(s.Y[j]), ci})
		}
	}
	return rows
}

// Files returns the files that the report links to, relative to its folder.
func (r *Report) Files() []string { return append([]string(nil), r.files...) }

// Write writes report.md and returns its path.
func (r *Report) Write() (string, error) {
	path := filepath.Join(r.dir, "report.md")
	if err := os.WriteFile(path, []byte(r.md.String()), 0o644); err != nil {
		return "", fmt.Errorf("experiments: write report: %w", err)
	}
	return path, nil
}
