package experiments

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Series is one line or one set of points of a plot. Err, when not nil, holds the
// half-width of the 95 % interval of each Y and is drawn as error bars.
type Series struct {
	Name string
	X, Y []float64
	Err  []float64

	// Reference draws the series as a dashed line without points, in the colour of the
	// plot's n-th ordinary series when it is the plot's n-th reference series. In a Dots
	// plot it is a grey dashed level across each group.
	Reference bool
	// Marker draws the series as a grey dotted line without points, such as a vertical
	// line at an event.
	Marker bool
}

// figure is a drawing of a fixed size, written as PNG and SVG.
type figure struct {
	width, height vg.Length
	draw          func(c draw.Canvas)
}

// pngDPI sets the PNG resolution; at 96 dots per inch a 7-inch figure is 672 pixels wide.
const pngDPI = 96

// save writes f to dir/name.png and dir/name.svg.
func (f figure) save(dir, name string) error {
	img := vgimg.NewWith(vgimg.UseWH(f.width, f.height), vgimg.UseDPI(pngDPI), vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(img))
	if err := writeTo(filepath.Join(dir, name+".png"), vgimg.PngCanvas{Canvas: img}); err != nil {
		return err
	}
	svg := vgsvg.New(f.width, f.height)
	f.draw(draw.New(svg))
	return writeTo(filepath.Join(dir, name+".svg"), svg)
}

// writeTo writes the output of w to a new file at path.
func writeTo(path string, w io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("experiments: create plot: %w", err)
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("experiments: write plot %s: %w", path, err)
	}
	return f.Close()
}

// plotFigure wraps a single plot as a figure, its legend to the right of it.
func plotFigure(p *chart, width, height vg.Length) figure {
	return stackFigure(width, height, p)
}

// stackFigure draws plots one above the other, each with its legend in a column to the
// right, where it cannot hide data. The legend column is as wide as the widest legend.
func stackFigure(width, panelHeight vg.Length, plots ...*chart) figure {
	legends := make([]plot.Legend, len(plots))
	var legendWidth vg.Length
	for i, p := range plots {
		legends[i] = p.Legend
		legends[i].Top = true
		legends[i].Left = true
		p.Legend = plot.NewLegend()
		for _, name := range p.names {
			legendWidth = max(legendWidth, legends[i].TextStyle.Width(name))
		}
	}
	if legendWidth > 0 {
		legendWidth += legends[0].ThumbnailWidth + legends[0].Padding + vg.Points(16)
	}
	return figure{width: width + legendWidth, height: panelHeight * vg.Length(len(plots)), draw: func(c draw.Canvas) {
		tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Points(6)}
		for i, p := range plots {
			tile := tiles.At(c, 0, i)
			p.Draw(draw.Crop(tile, 0, -legendWidth, 0, 0))
			side := draw.Crop(tile, tile.Max.X-tile.Min.X-legendWidth+vg.Points(8), 0, 0, -vg.Points(20))
			legends[i].Draw(side)
		}
	}}
}

// chart is a plot with the texts of its legend entries, which plot.Legend keeps private,
// for sizing the legend column.
type chart struct {
	*plot.Plot
	names []string
}

// addLegend adds a legend entry to the chart.
func (c *chart) addLegend(name string, thumbs ...plot.Thumbnailer) {
	c.Legend.Add(name, thumbs...)
	c.names = append(c.names, name)
}

// niceTicks returns four to eight major ticks at multiples of 1, 2, 2.5 or 5 times a power of
// ten, with labels, and minor ticks halfway between them.
func niceTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 7
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		x := math.Round(v/step) * step
		if x == 0 {
			x = 0 // not -0, which would be labelled "-0"
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', 6, 64)})
		if mid := x + step/2; mid <= hi {
			ticks = append(ticks, plot.Tick{Value: mid})
		}
	}
	return ticks
}

// newPlot returns a plot with the title and axis labels set and a grid behind the data.
func newPlot(title, xLabel, yLabel string) *chart {
	p := &chart{Plot: plot.New()}
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.Y.Tick.Marker = plot.TickerFunc(niceTicks)
	p.X.Tick.Marker = plot.TickerFunc(niceTicks)
	return p
}

// linePlot draws each series as a line with points, and error bars where the series has
// them.
func linePlot(title, xLabel, yLabel string, series []Series) (*chart, error) {
	p := newPlot(title, xLabel, yLabel)
	ordinary, references := 0, 0
	for _, s := range series {
		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xys[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("experiments: plot %q series %q: %w", title, s.Name, err)
		}
		if s.Marker {
			line.Color = color.Gray{Y: 90}
			line.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(line)
			p.addLegend(s.Name, line)
			continue
		}
		if s.Reference {
			line.Color = plotutil.Color(references)
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			line.Width = vg.Points(1.2)
			references++
			p.Add(line)
			p.addLegend(s.Name, line)
			continue
		}
		i := ordinary
		ordinary++
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i / 7)
		line.Width = vg.Points(1.5)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		points.Radius = vg.Points(2)
		p.Add(line, points)
		if s.Err != nil {
			bars, err := errorBars(s)
			if err != nil {
				return nil, fmt.Errorf("experiments: plot %q series %q: %w", title, s.Name, err)
			}
			bars.Color = plotutil.Color(i)
			p.Add(bars)
		}
		p.addLegend(s.Name, line, points)
	}
	return p, nil
}

// errorBars returns the error bars of s.
func errorBars(s Series) (*plotter.YErrorBars, error) {
	type xyErr struct {
		plotter.XYs
		plotter.YErrors
	}
	d := xyErr{XYs: make(plotter.XYs, len(s.X)), YErrors: make(plotter.YErrors, len(s.X))}
	for j := range s.X {
		d.XYs[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
		d.YErrors[j] = struct{ Low, High float64 }{s.Err[j], s.Err[j]}
	}
	return plotter.NewYErrorBars(d)
}

// dotPlot draws, for each group on the x axis, one point per series with its error bar,
// the series side by side.
func dotPlot(title, yLabel string, groups []string, series []Series) (*chart, error) {
	p := newPlot(title, "", yLabel)
	width := 0.7 // of the space between two groups
	var points []Series
	for _, s := range series {
		if !s.Reference {
			points = append(points, s)
		}
	}
	for i, s := range points {
		offset := 0.0
		if len(points) > 1 {
			offset = -width/2 + width*float64(i)/float64(len(points)-1)
		}
		shifted := Series{Name: s.Name, Y: s.Y, Err: s.Err, X: make([]float64, len(s.Y))}
		for j := range s.Y {
			shifted.X[j] = float64(j) + offset
		}
		xys := make(plotter.XYs, len(s.Y))
		for j := range s.Y {
			xys[j] = plotter.XY{X: shifted.X[j], Y: s.Y[j]}
		}
		scatter, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("experiments: plot %q series %q: %w", title, s.Name, err)
		}
		scatter.Color = plotutil.Color(i)
		scatter.Shape = plotutil.Shape(i)
		scatter.Radius = vg.Points(3)
		p.Add(scatter)
		if s.Err != nil {
			bars, err := errorBars(shifted)
			if err != nil {
				return nil, fmt.Errorf("experiments: plot %q series %q: %w", title, s.Name, err)
			}
			bars.Color = plotutil.Color(i)
			p.Add(bars)
		}
		p.addLegend(s.Name, scatter)
	}

	// A reference series is a dashed level across each group's width, such as a target.
	for _, s := range series {
		if !s.Reference {
			continue
		}
		var level *plotter.Line
		for j, y := range s.Y {
			line, err := plotter.NewLine(plotter.XYs{{X: float64(j) - width/2 - 0.1, Y: y}, {X: float64(j) + width/2 + 0.1, Y: y}})
			if err != nil {
				return nil, fmt.Errorf("experiments: plot %q series %q: %w", title, s.Name, err)
			}
			line.Color = color.Gray{Y: 90}
			line.Width = vg.Points(1.5)
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			p.Add(line)
			level = line
		}
		if level != nil {
			p.addLegend(s.Name, level)
		}
	}

	// Leave a margin above and below the highest and lowest whiskers.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for j, y := range s.Y {
			e := 0.0
			if s.Err != nil {
				e = s.Err[j]
			}
			lo, hi = min(lo, y-e), max(hi, y+e)
		}
	}
	if pad := 0.05 * (hi - lo); pad > 0 {
		p.Y.Min, p.Y.Max = lo-pad, hi+pad
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	return p, nil
}

// heatCells is a plot.Plotter that fills cell (row, column) of a table with the colour of
// shade[row][column], in [0, 1], and writes label[row][column] in it. Row 0 is at the top.
type heatCells struct {
	shade [][]float64
	label [][]string
	cmap  palette.ColorMap
}

func (h heatCells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	rows := len(h.shade)
	style := text.Style{Color: color.Black, Font: p.X.Tick.Label.Font, Handler: p.X.Tick.Label.Handler,
		XAlign: draw.XCenter, YAlign: draw.YCenter}
	for r := range h.shade {
		y := float64(rows - 1 - r)
		for col, v := range h.shade[r] {
			x := float64(col)
			fill := color.Color(color.Gray{Y: 220})
			if !math.IsNaN(v) {
				fill, _ = h.cmap.At(v)
			}
			c.FillPolygon(fill, []vg.Point{
				{X: trX(x - 0.5), Y: trY(y - 0.5)}, {X: trX(x + 0.5), Y: trY(y - 0.5)},
				{X: trX(x + 0.5), Y: trY(y + 0.5)}, {X: trX(x - 0.5), Y: trY(y + 0.5)},
			})
			c.FillText(style, vg.Point{X: trX(x), Y: trY(y)}, h.label[r][col])
		}
	}
}

func (h heatCells) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(len(h.shade[0])) - 0.5, -0.5, float64(len(h.shade)) - 0.5
}

// heatmapFigure draws a table of values as coloured cells with a colour bar on the right.
// shade holds each cell's colour value in [0, 1] (NaN for grey), label its text.
func heatmapFigure(title, xLabel, yLabel, shadeLabel string, rows, cols []string, shade [][]float64, label [][]string) figure {
	cmap := moreland.SmoothBlueRed()
	cmap.SetMin(0)
	cmap.SetMax(1)
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(heatCells{shade: shade, label: label, cmap: cmap})
	p.NominalX(cols...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	reversed := make([]string, len(rows))
	for i, r := range rows {
		reversed[len(rows)-1-i] = r
	}
	p.NominalY(reversed...)

	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})
	bar.Y.Label.Text = shadeLabel
	bar.HideX()
	bar.Title.Text = " "

	width := vg.Length(math.Max(6, 1.6+0.9*float64(len(cols)))) * vg.Inch
	height := vg.Length(math.Max(3.5, 1.8+0.32*float64(len(rows)))) * vg.Inch
	barWidth := 1.1 * vg.Inch
	return figure{width: width, height: height, draw: func(c draw.Canvas) {
		left := draw.Crop(c, 0, -barWidth, 0, 0)
		p.Draw(left)
		right := draw.Crop(c, c.Max.X-c.Min.X-barWidth, 0, 0.9*vg.Inch, 0)
		bar.Draw(right)
	}}
}

// formatFloat writes v for CSV files and tables: the shortest form that reads back exactly,
// and an empty cell for NaN.
func formatFloat(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// SavePanels draws line plots stacked vertically, one per panel with its y label, and
// writes them to dir/name.png and dir/name.svg. The first panel carries the title.
func SavePanels(dir, name, title, xLabel string, yLabels []string, panels [][]Series) error {
	fig, err := panelsFigure(title, xLabel, yLabels, panels)
	if err != nil {
		return err
	}
	return fig.save(dir, name)
}

// panelsFigure returns the figure of SavePanels.
func panelsFigure(title, xLabel string, yLabels []string, panels [][]Series) (figure, error) {
	plots := make([]*chart, 0, len(panels))
	for i, series := range panels {
		t := ""
		if i == 0 {
			t = title
		}
		p, err := linePlot(t, xLabel, yLabels[i], series)
		if err != nil {
			return figure{}, err
		}
		plots = append(plots, p)
	}
	return stackFigure(7*vg.Inch, 2.8*vg.Inch, plots...), nil
}
