package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/checkpoints"
)

// keepFlags set which checkpoints train keeps and how often it saves by wall time.
func keepFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "keep", Usage: "step checkpoints (checkpoints/step-NNNNNNNNN.msgpack) to keep besides latest.msgpack; older ones are deleted, and 0 keeps none", Value: 3},
		&cli.Float64Flag{Name: "save-seconds", Usage: "also save when this many seconds of wall time (at least 0.1) have passed since the last save; 0 disables it"},
	}
}

// Bounds of --save-seconds. Training checks the deadline only between shopper-steps and a
// save takes milliseconds, so a shorter interval than the minimum would spend the run
// saving. The maximum, about 31 years, keeps the value within a time.Duration.
const (
	minSaveSeconds = 0.1
	maxSaveSeconds = 1e9
)

// stepFile matches the name of a step checkpoint and captures its shopper-step.
var stepFile = regexp.MustCompile(`^step-([0-9]+)\.msgpack$`)

// tempFile matches the temporary files that checkpoints.Save writes before it renames them;
// a process killed while saving leaves one behind.
var tempFile = regexp.MustCompile(`^\.(latest|best|step-[0-9]+)\.msgpack\.tmp-[0-9]+$`)

// keeper writes the checkpoints of a run folder: latest.msgpack on every save, and a copy
// named for its shopper-step, of which it keeps the newest keep. It also decides when a
// save is due by wall time.
type keeper struct {
	dir      string        // RUN/checkpoints
	keep     int           // step checkpoints to keep
	interval time.Duration // wall time between saves; 0 disables time-based saves
	lastSave time.Time
}

// newKeeper sets up the checkpoints of run folder out for a run that starts at
// shopper-step start. It rejects a folder that contains step checkpoints beyond start,
// because the run would overwrite them, and it removes temporary files that an interrupted
// save left behind.
func newKeeper(c *cli.Context, out string, start int64) (*keeper, error) {
	if err := checkKeepFlags(c); err != nil {
		return nil, err
	}
	k := &keeper{dir: filepath.Join(out, "checkpoints"), keep: c.Int("keep"), lastSave: time.Now()}
	k.interval = time.Duration(c.Float64("save-seconds") * float64(time.Second))

	steps, err := k.stepCheckpoints()
	if err != nil {
		return nil, err
	}
	if len(steps) > 0 && steps[len(steps)-1].step > start {
		newest := steps[len(steps)-1]
		return nil, fmt.Errorf("%s contains %s, a checkpoint at shopper-step %d, beyond this run's start at step %d, and the run would overwrite it; "+
			"resume from that file, or write this run to another --out", k.dir, newest.name, newest.step, start)
	}
	entries, err := os.ReadDir(k.dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read checkpoint folder %s: %w", k.dir, err)
	}
	for _, e := range entries {
		if !tempFile.MatchString(e.Name()) {
			continue
		}
		path := filepath.Join(k.dir, e.Name())
		if err := os.Remove(path); err != nil {
			slog.Warn("cannot remove the temporary file of an interrupted save", "file", path, "err", err)
			continue
		}
		slog.Info("removed the temporary file of an interrupted save", "file", path)
	}
	return k, nil
}

// latestPath returns the path of latest.msgpack, the checkpoint to resume from.
func (k *keeper) latestPath() string { return filepath.Join(k.dir, "latest.msgpack") }

// stepPath returns the path of the step checkpoint at shopper-step step.
func (k *keeper) stepPath(step int64) string {
	return filepath.Join(k.dir, fmt.Sprintf("step-%09d.msgpack", step))
}

// save writes f, the state at shopper-step step, to latest.msgpack and, unless keep is 0,
// to its step checkpoint, then deletes the step checkpoints beyond the newest keep. Each
// write is atomic. latest.msgpack is written first, so a crash between the two writes
// leaves no step checkpoint newer than latest.msgpack.
func (k *keeper) save(f *checkpoints.File, step int64) error {
	if err := checkpoints.Save(k.latestPath(), f); err != nil {
		return err
	}
	k.lastSave = time.Now()
	if k.keep == 0 {
		return nil
	}
	if err := checkpoints.Save(k.stepPath(step), f); err != nil {
		return err
	}
	k.prune()
	return nil
}

// prune deletes the step checkpoints beyond the newest keep. A file it cannot delete is
// logged and left, since training can go on without deleting it.
func (k *keeper) prune() {
	steps, err := k.stepCheckpoints()
	if err != nil {
		slog.Warn("cannot list step checkpoints to delete old ones", "err", err)
		return
	}
	for _, s := range steps[:max(0, len(steps)-k.keep)] {
		path := filepath.Join(k.dir, s.name)
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			slog.Warn("cannot delete an old step checkpoint", "file", path, "err", err)
		}
	}
}

// stepCheckpoint is a step checkpoint file and the shopper-step in its name.
type stepCheckpoint struct {
	name string
	step int64
}

// stepCheckpoints lists the step checkpoints in the folder, oldest first. A missing
// folder contains none.
func (k *keeper) stepCheckpoints() ([]stepCheckpoint, error) {
	entries, err := os.ReadDir(k.dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint folder %s: %w", k.dir, err)
	}
	var out []stepCheckpoint
	for _, e := range entries {
		m := stepFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		step, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			step = math.MaxInt64 // more digits than any run reaches; treat it as the newest
		}
		out = append(out, stepCheckpoint{name: e.Name(), step: step})
	}
	slices.SortFunc(out, func(a, b stepCheckpoint) int { return cmp.Compare(a.step, b.step) })
	return out, nil
}

// untilNextSave returns a context that ctx cancels and that expires when a save is due by
// wall time, with its cancel function. Without --save-seconds it never expires.
func (k *keeper) untilNextSave(ctx context.Context) (context.Context, context.CancelFunc) {
	if k.interval == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, k.lastSave.Add(k.interval))
}

// checkKeepFlags validates --keep and --save-seconds.
func checkKeepFlags(c *cli.Context) error {
	if keep := c.Int("keep"); keep < 0 {
		return fmt.Errorf("--keep %d is invalid; use 0 to keep only latest.msgpack, or the number of step checkpoints to keep", keep)
	}
	seconds := c.Float64("save-seconds")
	if seconds != 0 && !(seconds >= minSaveSeconds && seconds <= maxSaveSeconds) { // also rejects NaN
		return fmt.Errorf("--save-seconds %g is invalid; use 0 to disable it, or seconds from %g to %g", seconds, minSaveSeconds, float64(maxSaveSeconds))
	}
	return nil
}
