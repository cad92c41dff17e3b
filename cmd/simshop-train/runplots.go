package main

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/simshop/simshop/experiments"
)

// plotInterval is the least wall time between two drawings of the learning curve while
// training runs.
const plotInterval = 30 * time.Second

// learningCurveName is the file name, without extension, of a run's learning-curve plot.
const learningCurveName = "learning_curve"

// writeLearningCurve draws the run's metrics.csv as RUN/learning_curve.png and .svg: the
// mean training return, the click-through rate and the loss against shopper-steps.
func writeLearningCurve(out string) error {
	path := filepath.Join(out, "metrics.csv")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("plot learning curve: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("plot learning curve: read %s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil // no progress row yet
	}
	column := map[string]int{}
	for i, name := range rows[0] {
		column[name] = i
	}
	panels := []struct{ key, label string }{
		{"return_mean", "mean return per session (reward units)"},
		{"ctr", "clicks per slate shown"},
		{"loss", "Huber loss of the latest update"},
	}
	var series [][]experiments.Series
	var labels []string
	for _, p := range panels {
		c, ok := column[p.key]
		if !ok {
			return fmt.Errorf("plot learning curve: %s has no column %q", path, p.key)
		}
		s := experiments.Series{Name: p.key}
		for _, row := range rows[1:] {
			x, err1 := strconv.ParseFloat(row[column["env_steps"]], 64)
			y, err2 := strconv.ParseFloat(row[c], 64)
			if err1 != nil || err2 != nil || math.IsNaN(y) {
				continue // an empty window, such as the loss before the first update
			}
			s.X, s.Y = append(s.X, x), append(s.Y, y)
		}
		series = append(series, []experiments.Series{s})
		labels = append(labels, p.label)
	}
	return experiments.SavePanels(out, learningCurveName, "Training of "+filepath.Base(filepath.Clean(out)), "shopper-steps", labels, series)
}
