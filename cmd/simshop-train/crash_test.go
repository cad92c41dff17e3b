package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/simshop/simshop/checkpoints"
)

// lockedBuffer is a bytes.Buffer that a running process writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a run of the binary in the background.
type process struct {
	cmd    *exec.Cmd
	stdout lockedBuffer
	stderr lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // the result of Wait, set before done is closed
}

// waitTimeout bounds every wait for a background process, so that a hang fails the test.
const waitTimeout = 30 * time.Second

// startBinary runs the binary with args in the background. The test kills it at cleanup
// if it is still running.
func startBinary(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binPath, args...), done: make(chan struct{})}
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start simshop-train: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitFor waits until the process's stderr contains s, and fails the test if the process
// exits or waitTimeout passes first.
func (p *process) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(p.stderr.String(), s) {
		select {
		case <-p.done:
			if strings.Contains(p.stderr.String(), s) {
				return
			}
			t.Fatalf("simshop-train exited (%v) before logging %q\nstderr:\n%s", p.err, s, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("simshop-train did not log %q within %v\nstderr:\n%s", s, waitTimeout, p.stderr.String())
		}
	}
}

// wait waits until the process exits and returns its exit code, or -1 if a signal ended it.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Fatalf("simshop-train did not exit within %v\nstderr:\n%s", waitTimeout, p.stderr.String())
	}
	var exitErr *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &exitErr):
		return exitErr.ExitCode()
	}
	t.Fatalf("wait for simshop-train: %v", p.err)
	return 0
}

// kill ends the process with SIGKILL, which it cannot catch, and waits for it.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("send SIGKILL: %v", err)
	}
	p.wait(t)
}

// interrupt sends SIGINT, as Ctrl-C does, and waits for the process to exit.
func (p *process) interrupt(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("send SIGINT: %v", err)
	}
	return p.wait(t)
}

// waitForFile waits until path exists, for at most waitTimeout.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not exist after %v", path, waitTimeout)
		}
	}
}

// killDuringSave sends SIGKILL to p as soon as a temporary file of checkpoints.Save
// appears in dir, that is while a save is under way, or after a second without one. It
// reports whether it saw the temporary file.
func killDuringSave(t *testing.T, p *process, dir string) bool {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				p.kill(t)
				return true
			}
		}
	}
	p.kill(t)
	return false
}

// crashTraining trains for far longer than the test lets it run, saving every 50
// vectorized steps of 4 sessions, so that kills land during and between saves.
var crashTraining = []string{
	"--items", "20", "--steps", "200000", "--save-every", "200", "--envs", "4",
	"--hidden", "16", "--batch-size", "16", "--learning-starts", "64", "--log-every", "200",
}

// loadAll loads every checkpoint in run folder out with the checks eval applies to a
// file, and returns the path of the one with the most shopper-steps and that count.
func loadAll(t *testing.T, out string) (string, int64) {
	t.Helper()
	dir := filepath.Join(out, "checkpoints")
	var newest string
	steps := int64(-1)
	for _, name := range checkpointFiles(t, out) {
		if !strings.HasSuffix(name, ".msgpack") {
			continue // a temporary file of a save that the kill interrupted
		}
		f, err := checkpoints.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("checkpoint %s does not load after SIGKILL: %v", name, err)
		}
		if f.Training.EnvSteps > steps {
			newest, steps = filepath.Join(dir, name), f.Training.EnvSteps
		}
	}
	if newest == "" {
		t.Fatalf("no checkpoint in %s; files: %v", dir, checkpointFiles(t, out))
	}
	return newest, steps
}

func TestTrainSurvivesSIGKILL(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	rng := rand.New(rand.NewPCG(2026, 5))
	args := append([]string{"train", "--out", out, "--persona", "cheap_blue"}, crashTraining...)
	var firstSteps, steps int64

	const kills = 8
	for i := 0; i <= kills; i++ {
		p := startBinary(t, args...)
		p.waitFor(t, "msg=training")
		if i == 0 {
			waitForFile(t, checkpointPath(out))
		} else {
			// The run resumed from the newest checkpoint, at its step.
			if !strings.Contains(p.stderr.String(), " step="+strconv.FormatInt(steps, 10)+" ") {
				t.Fatalf("kill %d: resumed run does not log step=%d\nstderr:\n%s", i, steps, p.stderr.String())
			}
		}
		if i == kills {
			// The last resume only has to start training.
			p.waitFor(t, "msg=progress")
			p.kill(t)
			break
		}

		delay := time.Duration(50+rng.IntN(351)) * time.Millisecond
		time.Sleep(delay)
		caught := killDuringSave(t, p, filepath.Join(out, "checkpoints"))

		var newest string
		newest, steps = loadAll(t, out)
		t.Logf("kill %d after %v, during a save: %v; newest checkpoint at step %d; folder contains %v", i+1, delay, caught, steps, checkpointFiles(t, out))
		if i == 0 {
			firstSteps = steps
		}
		r := execute(t, "eval", "--model", newest, "--episodes", "5", "--envs", "4")
		if r.code != 0 {
			t.Fatalf("kill %d: eval of %s: exit code %d\nstderr:\n%s", i+1, newest, r.code, r.stderr)
		}
		args = []string{"train", "--resume", newest, "--out", out, "--steps", "200000", "--save-every", "200", "--log-every", "200"}
	}
	if steps <= firstSteps {
		t.Errorf("the newest checkpoint is at step %d after %d kills, no further than %d after the first", steps, kills, firstSteps)
	}
}

// TestTrainSIGINTKeepsSaveReplay checks that the resume command printed after a signal
// keeps --save-replay, without which the resumed run would stop storing its buffer.
func TestTrainSIGINTKeepsSaveReplay(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "--out", out, "--persona", "cheap_blue", "--save-replay"}, crashTraining...)
	p := startBinary(t, args...)
	p.waitFor(t, "msg=progress")
	if code := p.interrupt(t); code != 130 {
		t.Fatalf("exit code %d; want 130 after a handled interrupt\nstderr:\n%s", code, p.stderr.String())
	}
	lines := strings.Split(strings.TrimRight(p.stderr.String(), "\n"), "\n")
	command := strings.Fields(lines[len(lines)-1])
	want := []string{binPath, "train", "--resume", checkpointPath(out), "--out", out, "--steps", "200000", "--save-replay"}
	if !slices.Equal(command, want) {
		t.Errorf("resume command = %q; want %q", command, want)
	}
}

func TestTrainSIGINT(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "--out", out, "--persona", "cheap_blue"}, crashTraining...)
	p := startBinary(t, args...)
	p.waitFor(t, "msg=progress")
	code := p.interrupt(t)

	// The process handles the signal: it saves, explains, and exits with status 130.
	stderr := p.stderr.String()
	if code != 130 || strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
		t.Fatalf("exit code %d; want 130 after a handled interrupt\nstderr:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("stderr has %d lines; want the message and the resume command:\n%s", len(lines), stderr)
	}
	message, command := lines[len(lines)-2], strings.Fields(lines[len(lines)-1])
	if !strings.HasPrefix(message, "simshop-train: training stopped by a signal at shopper-step ") {
		t.Errorf("message = %q; want it to say that a signal stopped training", message)
	}
	latest := checkpointPath(out)
	want := []string{binPath, "train", "--resume", latest, "--out", out, "--steps", "200000"}
	if !slices.Equal(command, want) {
		t.Errorf("resume command = %q; want %q", command, want)
	}

	// The checkpoint named there loads, at the step the message names.
	f, err := checkpoints.Load(latest)
	if err != nil {
		t.Fatalf("load the checkpoint after SIGINT: %v", err)
	}
	if at := "shopper-step " + strconv.FormatInt(f.Training.EnvSteps, 10) + ","; !strings.Contains(message, at) {
		t.Errorf("message = %q; want it to name %s as the checkpoint does", message, at)
	}
	if r := execute(t, "eval", "--model", latest, "--episodes", "5", "--envs", "4"); r.code != 0 {
		t.Errorf("eval after SIGINT: exit code %d\nstderr:\n%s", r.code, r.stderr)
	}
}
