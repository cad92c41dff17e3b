package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports how far a long command has come: as a progress bar with the rate and
// the estimated time left when stderr is a terminal, and otherwise as a log line at most
// every logInterval.
type progress struct {
	what  string // what is counted, such as "shopper-steps"
	total int64
	from  int64 // count at the start, for the rate
	start time.Time
	bar   *progressbar.ProgressBar // nil when stderr is not a terminal

	lastLog time.Time
}

// logInterval is the least time between two progress log lines.
const logInterval = 10 * time.Second

// stderrIsTerminal reports whether stderr is a terminal.
func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// newProgress starts reporting a count that runs from from to total.
func newProgress(description, what string, from, total int64) *progress {
	p := &progress{what: what, total: total, from: from, start: time.Now(), lastLog: time.Now()}
	if stderrIsTerminal() {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(description),
			progressbar.OptionSetItsString(what),
			progressbar.OptionShowIts(),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(),
		)
		p.bar.Set64(from)
	}
	return p
}

// terminal reports whether the progress shows as a bar, in which case a command prints no
// progress log lines of its own.
func (p *progress) terminal() bool { return p.bar != nil }

// set records that the count has reached done.
func (p *progress) set(done int64) {
	if p.bar != nil {
		p.bar.Set64(done)
		return
	}
	now := time.Now()
	if now.Sub(p.lastLog) < logInterval && done < p.total {
		return
	}
	p.lastLog = now
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(done-p.from) / max(elapsed, 1e-9)
	attrs := []any{"done", done, "total", p.total, "unit", p.what, "per_second", round(rate, 2)}
	if rate > 0 && done < p.total {
		attrs = append(attrs, "eta", time.Duration(float64(p.total-done)/rate*float64(time.Second)).Round(time.Second).String())
	}
	slog.Info("progress", attrs...)
}

// finish ends the bar, if any, with a line break.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		os.Stderr.WriteString("\n")
	}
}
