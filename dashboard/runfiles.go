package dashboard

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Point is one row of a run's metrics: a training progress row of metrics.csv, or an
// evaluation of evals.csv.
type Point struct {
	Source string `json:"source"`           // "train", "eval", or "reset" when a file was replaced
	Resets string `json:"resets,omitempty"` // for a reset, the source whose earlier rows are void

	Step   int64              `json:"step"`   // env_steps: shopper-steps of training so far
	Values map[string]float64 `json:"values"` // by column name; empty and non-finite values are left out
}

// maxReadPerPoll bounds the bytes read from one file per poll, so that a huge metrics file
// is taken in over several polls instead of in one allocation.
const maxReadPerPoll = 4 << 20

// tailedFile follows a CSV file that a training run appends to. It keeps the file open
// between polls, so that a new file at the same path cannot reuse its inode unnoticed.
type tailedFile struct {
	path    string
	source  string
	fh      *os.File // open since the first poll that found the file
	offset  int64    // bytes consumed so far
	header  []string // nil until the header line is read
	partial []byte   // an incomplete last line, kept until its newline arrives
}

// poll returns the rows appended since the last call. A missing file has no rows. A file
// that was replaced, as train --force does, or that shrank is read again from its start,
// and its rows then follow a Point of source "reset".
func (f *tailedFile) poll() ([]Point, error) {
	atPath, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var points []Point
	if f.fh != nil {
		open, err := f.fh.Stat()
		if err != nil {
			return nil, err
		}
		if !os.SameFile(open, atPath) || atPath.Size() < f.offset {
			slog.Warn("metrics file replaced; reading it again from the start", "file", f.path)
			f.close()
			f.offset, f.header, f.partial = 0, nil, nil
			points = append(points, Point{Source: "reset", Resets: f.source, Values: map[string]float64{}})
		}
	}
	if f.fh == nil {
		if f.fh, err = os.Open(f.path); err != nil {
			return points, err
		}
	}
	st, err := f.fh.Stat()
	if err != nil {
		return points, err
	}
	if st.Size() <= f.offset {
		return points, nil
	}
	data := make([]byte, min(st.Size()-f.offset, maxReadPerPoll))
	n, err := f.fh.ReadAt(data, f.offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	f.offset += int64(n)
	data = append(f.partial, data[:n]...)
	last := bytes.LastIndexByte(data, '\n')
	if last < 0 {
		f.partial = data
		return points, nil
	}
	f.partial = append([]byte(nil), data[last+1:]...)

	r := csv.NewReader(bytes.NewReader(data[:last+1]))
	r.FieldsPerRecord = -1 // older files may have fewer columns
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return points, nil
		}
		if err != nil {
			return points, fmt.Errorf("read %s: %w", f.path, err)
		}
		if f.header == nil {
			f.header = rec
			continue
		}
		p := Point{Source: f.source, Values: map[string]float64{}}
		for i, cell := range rec {
			if i >= len(f.header) {
				break
			}
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			if f.header[i] == "env_steps" {
				p.Step = int64(v)
				continue
			}
			p.Values[f.header[i]] = v
		}
		points = append(points, p)
	}
}

// close closes the file, if open.
func (f *tailedFile) close() {
	if f.fh != nil {
		f.fh.Close()
		f.fh = nil
	}
}

// runTailer publishes the rows that a run folder's metrics.csv and evals.csv gain.
type runTailer struct {
	files []*tailedFile
	out   *Broadcaster[Point]
	every time.Duration
}

func newRunTailer(dir string, out *Broadcaster[Point], every time.Duration) *runTailer {
	return &runTailer{
		files: []*tailedFile{
			{path: filepath.Join(dir, "metrics.csv"), source: "train"},
			{path: filepath.Join(dir, "evals.csv"), source: "eval"},
		},
		out:   out,
		every: every,
	}
}

// pollOnce publishes the new rows of every file and logs read errors, each file's at most
// once until it reads cleanly again.
func (t *runTailer) pollOnce(failing map[string]bool) {
	for _, f := range t.files {
		points, err := f.poll()
		t.out.Publish(points...)
		if err != nil && !failing[f.path] {
			slog.Error("read run metrics", "file", f.path, "err", err)
		}
		failing[f.path] = err != nil
	}
}

// run polls the files until ctx is done.
func (t *runTailer) run(ctx context.Context) {
	failing := map[string]bool{}
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	defer func() {
		for _, f := range t.files {
			f.close()
		}
	}()
	for {
		t.pollOnce(failing)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
