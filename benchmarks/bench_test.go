// Package benchmarks measures SimShop's hot loops: the simulator step, the DQN's scoring and
// update, the replay buffer, and training end to end. Run with
//
//	go test -run '^$' -bench . -benchmem ./benchmarks
package benchmarks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/simshop/simshop/replay"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

func catalog(b *testing.B, n int) *simenv.Catalog {
	b.Helper()
	c, err := simenv.Generate(n, 1)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkEnvStep reports simulated shopper-steps per second for N sessions stepped
// together on one goroutine, and shopper-steps per second of process CPU time.
func BenchmarkEnvStep(b *testing.B) {
	for _, items := range []int{200, 1338} {
		for _, n := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("items=%d/sessions=%d", items, n), func(b *testing.B) {
				benchmarkEnvStep(b, items, n, 1)
			})
		}
	}
}

// BenchmarkEnvStepParallel reports the same figures with the sessions spread over several
// worker goroutines (VecEnv.Workers). Wall-clock throughput grows with the cores free for
// the workers; the per-CPU-second figure shows what the parallel path costs per core.
func BenchmarkEnvStepParallel(b *testing.B) {
	for _, n := range []int{256, 1024} {
		for _, workers := range []int{2, 4} {
			b.Run(fmt.Sprintf("items=200/sessions=%d/workers=%d", n, workers), func(b *testing.B) {
				benchmarkEnvStep(b, 200, n, workers)
			})
		}
	}
}

// benchmarkEnvStep steps n exposure_buyer sessions on a generated catalog of the given
// size with random slates of 3, on the given number of worker goroutines.
func benchmarkEnvStep(b *testing.B, items, n, workers int) {
	cat := catalog(b, items)
	env, err := simenv.NewVecEnv(cat, simenv.Config{Persona: simenv.ExposureBuyer}, n, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	env.Workers = workers
	rng := rand.New(rand.NewPCG(1, 2))
	// Precomputed random slates, so that the benchmark times the simulator alone.
	const variants = 64
	slates := make([][]int32, variants)
	for v := range slates {
		slates[v] = make([]int32, 3*n)
		for i := 0; i < n; i++ {
			perm := rng.Perm(items)
			for a := 0; a < 3; a++ {
				slates[v][3*i+a] = int32(perm[a])
			}
		}
	}
	out := simenv.NewStepResult(n)
	// The first step starts the worker goroutines.
	if err := env.Step(slates[0], out); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUSeconds()
	for i := 0; i < b.N; i++ {
		if err := env.Step(slates[i%variants], out); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPUSeconds() - cpuStart
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "shopper-steps/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N*n)/cpu, "shopper-steps/cpu-s")
	}
}

// trainedAgent returns a DQN whose replay buffer holds enough transitions to update.
func trainedAgent(b *testing.B, cat *simenv.Catalog, sessions int) (*rl.DQN, *simenv.VecEnv) {
	b.Helper()
	shop := simenv.Config{Persona: simenv.CheapBlue}
	d, err := rl.NewDQN(rl.DefaultDQNConfig(), cat, shop, 1)
	if err != nil {
		b.Fatal(err)
	}
	env, err := simenv.NewVecEnv(cat, shop, sessions, 1)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Train(context.Background(), env, rl.TrainOptions{Steps: int64(d.Config.LearningStarts + sessions)}); err != nil {
		b.Fatal(err)
	}
	return d, env
}

// cpuTimer measures the process CPU time of a benchmark's timed loop. On a machine shared
// with other jobs it is steadier than the wall clock, which also counts the time the
// benchmark waited for a core.
type cpuTimer struct{ start float64 }

func startCPU() cpuTimer { return cpuTimer{processCPUSeconds()} }

// report adds count per CPU-second, when the system reports CPU time, as unit "/cpu-s".
func (c cpuTimer) report(b *testing.B, count float64, unit string) {
	if cpu := processCPUSeconds() - c.start; cpu > 0 {
		b.ReportMetric(count/cpu, unit+"/cpu-s")
	}
}

// BenchmarkDQNScore reports how fast the DQN scores every catalog item for N sessions:
// encoding the sessions and one forward pass over sessions × items rows.
func BenchmarkDQNScore(b *testing.B) {
	for _, items := range []int{200, 1338} {
		b.Run(fmt.Sprintf("items=%d/sessions=16", items), func(b *testing.B) {
			cat := catalog(b, items)
			d, env := trainedAgent(b, cat, 16)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for i := 0; i < b.N; i++ {
				if _, err := d.Scores(env); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			rows := float64(16 * items)
			flops := 2 * rows * float64(d.Online.Spec.MACsPerRow())
			b.ReportMetric(float64(b.N*16)/sec, "sessions/s")
			b.ReportMetric(float64(b.N)*flops/sec/1e9, "GFLOP/s")
			cpu.report(b, float64(b.N*16), "sessions")
		})
	}
}

// BenchmarkDQNUpdate reports gradient updates per second at the default Q-network and
// batch. make bench-compare runs it against PyTorch on the same shapes.
func BenchmarkDQNUpdate(b *testing.B) {
	cat := catalog(b, 200)
	d, _ := trainedAgent(b, cat, 16)
	cfg := d.Config
	// Forward and backward on batch × slate rows (about 3 forward passes), plus forward
	// passes of the online and the target network over batch × candidates rows each. This
	// is the count of the PyTorch reference with --batch 192 --target-rows 768.
	rows := 3*float64(cfg.BatchSize*3) + 2*float64(cfg.BatchSize*cfg.Candidates)
	benchmarkUpdate(b, 2*rows*float64(d.Online.Spec.MACsPerRow()), func() error {
		if ok, err := d.Update(); err != nil || !ok {
			return fmt.Errorf("update: ok %v, err %v", ok, err)
		}
		return nil
	})
}

// BenchmarkReinforceUpdate lives next to the agent, in rl/reinforce_bench_test.go, because it
// refills the agent's private batch of states before every update.

// benchmarkUpdate times update b.N times and reports updates and GFLOP per second of
// wall-clock time and per CPU-second, given the floating-point operations of one update.
func benchmarkUpdate(b *testing.B, flops float64, update func() error) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		if err := update(); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "updates/s")
	b.ReportMetric(float64(b.N)*flops/sec/1e9, "GFLOP/s")
	cpu.report(b, float64(b.N), "updates")
}

// BenchmarkReplay reports transitions added and sampled per second at the DQN's default
// record width, and the buffer's bytes per transition.
func BenchmarkReplay(b *testing.B) {
	width := defaultRecordWidth(b)
	buf, err := replay.New(50_000, width)
	if err != nil {
		b.Fatal(err)
	}
	rec := make([]float32, width)
	rng := rand.New(rand.NewPCG(1, 1))
	idx := make([]int, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Add(rec, false)
		buf.Sample(rng, idx)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "add+sample/s")
	b.ReportMetric(float64(buf.Bytes())/float64(buf.Cap()), "bytes/transition")
	b.ReportMetric(float64(replay.BytesFor(1_000_000, width))/(1<<30), "GiB/1M")
}

// BenchmarkReplayMemory allocates a buffer of one million transitions at the DQN's default
// record width, fills it, and reports the heap it took per transition, measured by the
// runtime rather than computed.
func BenchmarkReplayMemory(b *testing.B) {
	width := defaultRecordWidth(b)
	const capacity = 1_000_000
	rec := make([]float32, width)
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		buf, err := replay.New(capacity, width)
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < capacity; j++ {
			buf.Add(rec, j%30 == 29)
		}
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/capacity, "bytes/transition")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<30), "GiB/1M")
		runtime.KeepAlive(buf)
	}
}

// defaultRecordWidth returns the replay record width of a DQN at the default configuration
// on the generated catalog of 200 items.
func defaultRecordWidth(b *testing.B) int {
	d, err := rl.NewDQN(rl.DefaultDQNConfig(), catalog(b, 200), simenv.Config{Persona: simenv.CheapBlue}, 1)
	if err != nil {
		b.Fatal(err)
	}
	return d.RecordWidth()
}

// BenchmarkTrain reports shopper-steps (env-steps) per second of DQN training at the
// default settings: 16 sessions, 200 items, one update per vectorized step.
func BenchmarkTrain(b *testing.B) {
	benchmarkTrain(b, rl.DefaultDQNConfig())
}

// BenchmarkTrainUpdateEvery reports the same with fewer updates: one every 4 and every 16
// vectorized steps. The default configuration updates on every step; these rows show how
// much of training's time the updates take.
func BenchmarkTrainUpdateEvery(b *testing.B) {
	for _, every := range []int{4, 16} {
		b.Run(fmt.Sprintf("every=%d", every), func(b *testing.B) {
			cfg := rl.DefaultDQNConfig()
			cfg.UpdateEvery = every
			benchmarkTrain(b, cfg)
		})
	}
}

func benchmarkTrain(b *testing.B, cfg rl.DQNConfig) {
	cat := catalog(b, 200)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	d, err := rl.NewDQN(cfg, cat, shop, 1)
	if err != nil {
		b.Fatal(err)
	}
	const sessions = 16
	env, err := simenv.NewVecEnv(cat, shop, sessions, 1)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Train(context.Background(), env, rl.TrainOptions{Steps: int64(d.Config.LearningStarts + sessions)}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	start := d.EnvSteps
	if err := d.Train(context.Background(), env, rl.TrainOptions{Steps: start + int64(b.N)*sessions}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(d.EnvSteps-start)/b.Elapsed().Seconds(), "env-steps/s")
	cpu.report(b, float64(d.EnvSteps-start), "env-steps")
}
