package simenv

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// fullTrace runs env for steps steps on random slates from a fixed stream and returns every
// reaction, the episode figures, and at the end every session's hidden memory and the item
// counters, so that two runs can be compared exactly.
func fullTrace(t *testing.T, env *VecEnv, steps int) []float64 {
	t.Helper()
	n, k, m := env.NumSessions(), env.Config.SlateSize, env.Catalog.Len()
	rng := rand.New(rand.NewPCG(7, 7))
	slates := make([]int32, n*k)
	out := NewStepResult(n)
	var trace []float64
	for range steps {
		for i := range n {
			sampleSlate(rng, m, slates[i*k:(i+1)*k])
		}
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			trace = append(trace, out.Reward[i], float64(out.Click[i]), indicatorFloat(out.Bought[i]), indicatorFloat(out.Done[i]))
			if out.Done[i] {
				trace = append(trace, out.EpisodeReturn[i], float64(out.EpisodeSteps[i]),
					float64(out.EpisodeClicks[i]), float64(out.EpisodePurchases[i]))
			}
		}
	}
	for i := range n {
		mem := env.OracleMemory(i)
		trace = append(trace, float64(env.SessionVisit(i)), mem.Trust, mem.RemainingBudget)
		trace = append(trace, mem.Fatigue...)
		trace = append(trace, mem.TasteEstimate...)
	}
	for _, counters := range [][]int32{env.Exposure, env.ItemClicks, env.ItemPurchases} {
		for _, c := range counters {
			trace = append(trace, float64(c))
		}
	}
	return trace
}

// parallelConfigs are the shops on which parallel stepping must match sequential stepping:
// every persona with returns, under every choice model, and with drift.
func parallelConfigs(cat *Catalog) []Config {
	everyone := strings.Join(PersonaNames, ":1,") + ":1"
	var cfgs []Config
	for _, model := range ChoiceModelNames {
		cfgs = append(cfgs, Config{Persona: everyone, ReturnProb: 0.5, ChoiceModel: model})
	}
	drift := "favorite_color=red@400,favorite_category=Tops@800,price=Dresses*0.7@1200,remove_category=Shoes@1600,add=" + cat.Items[3].ID + "@2000"
	cfgs = append(cfgs, Config{Persona: everyone, ReturnProb: 0.5, Drift: drift})
	return cfgs
}

// TestParallelStepMatchesSequential compares full traces of sequential stepping with those
// of 2, 3, 4 and 40 workers (more workers than sessions) on the same seed.
func TestParallelStepMatchesSequential(t *testing.T) {
	cat := testCatalog(t, 100)
	for _, cfg := range parallelConfigs(cat) {
		t.Run(cfg.ChoiceModel+"/"+cfg.Drift, func(t *testing.T) {
			run := func(workers int) []float64 {
				env, err := NewVecEnv(cat, cfg, 37, 13)
				if err != nil {
					t.Fatal(err)
				}
				defer env.Close()
				env.Workers = workers
				return fullTrace(t, env, 120)
			}
			sequential := run(1)
			for _, workers := range []int{2, 3, 4, 40} {
				if got := run(workers); !equalFloats(got, sequential) {
					t.Errorf("%d workers: the trace differs from sequential stepping", workers)
				}
			}
		})
	}
}

// TestParallelStepIndependentOfGOMAXPROCS runs 4 workers with GOMAXPROCS 1 and 4 and checks
// that the traces agree with each other and with sequential stepping.
func TestParallelStepIndependentOfGOMAXPROCS(t *testing.T) {
	cat := testCatalog(t, 100)
	cfg := parallelConfigs(cat)[0]
	run := func(procs, workers int) []float64 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		env, err := NewVecEnv(cat, cfg, 64, 21)
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close()
		env.Workers = workers
		return fullTrace(t, env, 150)
	}
	singleThread, fourThreads := run(1, 4), run(4, 4)
	if !equalFloats(singleThread, fourThreads) {
		t.Error("4 workers give different traces under GOMAXPROCS 1 and 4")
	}
	if !equalFloats(singleThread, run(4, 1)) {
		t.Error("4 workers under GOMAXPROCS 1 differ from sequential stepping under GOMAXPROCS 4")
	}
}

// TestParallelStepAllocatesNothing checks the parallel path with every persona. Step itself
// allocates nothing, but a worker that parks may make the runtime allocate its wait record
// when the runtime's cache of them is empty, which is rare. So the test allows at most one
// allocation per 100 steps, far below the one per step that an allocation in the step
// would give, and checks testing.AllocsPerRun, which rounds the mean down, for 0.
func TestParallelStepAllocatesNothing(t *testing.T) {
	cat := testCatalog(t, 200)
	for _, workers := range []int{2, 4} {
		env, err := NewVecEnv(cat, Config{Persona: strings.Join(PersonaNames, ":1,") + ":1", ReturnProb: 0.5}, 64, 1)
		if err != nil {
			t.Fatal(err)
		}
		env.Workers = workers
		slates := make([]int32, 64*3)
		for i := 0; i < 64; i++ {
			copy(slates[i*3:], []int32{int32(i), int32(i + 64), int32(i + 128)})
		}
		out := NewStepResult(64)
		// The first step starts the workers.
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		const steps = 1000
		allocs := mallocsDuring(func() {
			for range steps {
				if err := env.Step(slates, out); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs > steps/100 {
			t.Errorf("%d workers: %d steps allocated %d times; want at most %d", workers, steps, allocs, steps/100)
		}
		if per := testing.AllocsPerRun(50, func() { _ = env.Step(slates, out) }); per != 0 {
			t.Errorf("%d workers: AllocsPerRun = %g; want 0", workers, per)
		}
		env.Close()
	}
}

// TestParallelStepRejectsBadSlates checks that a parallel step validates every slate
// before it changes any session, as the sequential one does.
func TestParallelStepRejectsBadSlates(t *testing.T) {
	cat := testCatalog(t, 50)
	env, err := NewVecEnv(cat, Config{Persona: CheapBlue}, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	env.Workers = 4
	slates := make([]int32, 8*3)
	for i := range 8 {
		copy(slates[i*3:], []int32{1, 2, 3})
	}
	slates[7*3+2] = 99
	exposure := slices.Clone(env.Exposure)
	out := NewStepResult(8)
	if err := env.Step(slates, out); err == nil || !strings.Contains(err.Error(), "session 7 slate position 2: item 99 is outside the catalog") {
		t.Errorf("error %v; want one about item 99", err)
	}
	if !slices.Equal(env.Exposure, exposure) || env.Clock() != 0 {
		t.Error("a rejected step changed the sessions or the clock")
	}
	if err := env.Step(slates[:3], out); err == nil {
		t.Error("a short slate list was accepted")
	}
	if err := env.Step(make([]int32, 8*3), NewStepResult(7)); err == nil || !strings.Contains(err.Error(), "allocate it with NewStepResult(8)") {
		t.Errorf("a step result for 7 sessions: error %v; want one naming NewStepResult(8)", err)
	}
	if err := env.Step(make([]int32, 8*3), nil); err == nil {
		t.Error("a nil step result was accepted")
	}
}

// TestCloseStopsWorkers checks that Close stops the worker goroutines, that a later
// parallel step starts them again, that a change of Workers replaces them, and that the
// workers of an unreachable VecEnv stop after garbage collection.
func TestCloseStopsWorkers(t *testing.T) {
	cat := testCatalog(t, 50)
	waitForWorkers(t, 0) // workers of earlier tests
	newEnv := func() *VecEnv {
		env, err := NewVecEnv(cat, Config{Persona: CheapBlue}, 16, 1)
		if err != nil {
			t.Fatal(err)
		}
		env.Workers = 4
		stepOnce(t, env, []int32{1, 2, 3})
		return env
	}
	env := newEnv()
	if got := countWorkers(); got != 3 {
		t.Errorf("%d worker goroutines with Workers 4; want 3 besides the caller", got)
	}
	env.Close()
	waitForWorkers(t, 0)
	stepOnce(t, env, []int32{1, 2, 3})
	if got := countWorkers(); got != 3 {
		t.Errorf("%d worker goroutines after stepping a closed VecEnv; want 3", got)
	}
	env.Workers = 2
	stepOnce(t, env, []int32{1, 2, 3})
	waitForWorkers(t, 1)
	env.Close()
	waitForWorkers(t, 0)

	newEnv() // dropped at once
	runtime.GC()
	waitForWorkers(t, 0)
}

// countWorkers returns the number of running worker goroutines of all VecEnvs.
func countWorkers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "created by github.com/simshop/simshop/simenv.newStepPool")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitForWorkers waits until at most want worker goroutines run, running the garbage
// collector so that cleanups run; it fails after 5 s. The wait is for the scheduler, not a
// speed target: stopped workers exit as soon as they are scheduled.
func waitForWorkers(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for countWorkers() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d worker goroutines still run; want %d", countWorkers(), want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
