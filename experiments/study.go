// Package experiments runs SimShop's studies: recommenders against personas, an agent's
// behaviour over training, and robustness to changes of the catalog and the shoppers. Each
// study trains and evaluates with fixed seeds and writes a Markdown report with plots, made
// with gonum/plot, and the CSV data behind every plot.
package experiments

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/simshop/simshop/simenv"
)

// Catalog is a catalog a study runs on, with the flags that select it.
type Catalog struct {
	Name    string // short name for headings and file names, such as "generated"
	Flags   string // command-line flags that load it, such as "--items 200 --catalog-seed 1"
	Catalog *simenv.Catalog
	// Generated is true for a catalog that simenv.Generate made.
	Generated bool
}

// Budget sizes a study. Every count is per trained agent or per evaluated recommender.
type Budget struct {
	Name        string
	TrainSteps  int64 // shopper-steps of each training run
	Sessions    int   // training sessions simulated in parallel
	Episodes    int   // evaluation sessions per recommender, persona and catalog
	Checkpoints int   // checkpoints measured over a training run, after the initial weights
	Points      int   // evaluation points over a robustness run, after the start
}

// Budgets are the named budgets. "tiny" is for tests and runs in seconds; "default" is the
// one of the committed reports; "bars" is that of the bars, the default of `train` and
// `compare`.
var Budgets = map[string]Budget{
	"tiny":    {Name: "tiny", TrainSteps: 640, Sessions: 8, Episodes: 6, Checkpoints: 2, Points: 4},
	"small":   {Name: "small", TrainSteps: 6_000, Sessions: 16, Episodes: 100, Checkpoints: 4, Points: 6},
	"default": {Name: "default", TrainSteps: 10_000, Sessions: 16, Episodes: 150, Checkpoints: 4, Points: 6},
	"bars":    {Name: "bars", TrainSteps: 60_000, Sessions: 16, Episodes: 500, Checkpoints: 4, Points: 6},
}

// BudgetNames returns the names of Budgets in a stable order.
func BudgetNames() []string {
	names := make([]string, 0, len(Budgets))
	for n := range Budgets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Options set up a study run.
type Options struct {
	Catalogs []Catalog // at least one; the first is the main catalog
	Budget   Budget
	Seed     uint64 // seed of every training and evaluation stream
	// Personas are the personas of the by-persona and behaviour studies; nil means every
	// persona of simenv.PersonaNames.
	Personas []string
	// CatalogSeed seeds the generated catalogs of the catalog-size sweep.
	CatalogSeed uint64
	Out         string // report folder
	Work        string // folder for checkpoints, kept out of the report
	Command     string // the command line that runs the study, recorded in the report
	Context     context.Context

	// Progress, when not nil, is called after each unit of work with the units done and
	// the total.
	Progress func(done, total int)
}

func (o *Options) personas() []string {
	if o.Personas == nil {
		return simenv.PersonaNames
	}
	return o.Personas
}

func (o *Options) context() context.Context {
	if o.Context == nil {
		return context.Background()
	}
	return o.Context
}

// Study is one of the studies.
type Study struct {
	Name  string
	Usage string
	Run   func(opt Options) (*Report, error)
	units func(opt Options) int // units of work, for progress

	DefaultBudget string // the name in Budgets of the study's usual budget
	// FixedPersonas marks a study that chooses its own personas and rejects
	// Options.Personas.
	FixedPersonas bool
	// uses lists the budget fields beyond training steps, sessions and episodes that the
	// study reads, "checkpoints" and "points", so that its report names only those.
	uses []string
}

// Studies lists the studies by name.
var Studies = []Study{
	{Name: "recommenders-by-persona", Usage: "every recommender against every persona", Run: runByPersona, units: byPersonaUnits,
		DefaultBudget: "default"},
	{Name: "behaviour-over-training", Usage: "what the agents show each persona at checkpoints over training", Run: runBehaviour, units: behaviourUnits,
		DefaultBudget: "default", uses: []string{"checkpoints"}},
	{Name: "robustness", Usage: "catalog-size sweep, and a preference shift and a catalog change in the middle of a run, on cheap_blue", Run: runRobustness, units: robustnessUnits,
		DefaultBudget: "default", FixedPersonas: true, uses: []string{"points"}},
	{Name: "results", Usage: "every agent against the baselines on each persona, with learning curves, for docs/results.md", Run: runResults, units: resultsUnits,
		DefaultBudget: "default", uses: []string{"points"}},
	{Name: "bars", Usage: "the targets that the agents must reach against the oracle and popularity, with training times, for docs/bars.md", Run: runBars, units: barUnits,
		DefaultBudget: "bars", FixedPersonas: true},
}

// FindStudy returns the study of that name.
func FindStudy(name string) (Study, bool) {
	for _, s := range Studies {
		if s.Name == name {
			return s, true
		}
	}
	return Study{}, false
}

// StudyNames lists the names of Studies.
func StudyNames() []string {
	var names []string
	for _, s := range Studies {
		names = append(names, s.Name)
	}
	return names
}

// Run runs the named study and writes its report, returning the report's path.
func Run(name string, opt Options) (string, error) {
	s, ok := FindStudy(name)
	if !ok {
		return "", fmt.Errorf("experiments: unknown study %q; studies: %s", name, strings.Join(StudyNames(), ", "))
	}
	if len(opt.Catalogs) == 0 {
		return "", fmt.Errorf("experiments: no catalog given")
	}
	if s.FixedPersonas && opt.Personas != nil {
		return "", fmt.Errorf("experiments: the %s study runs its own personas, so it takes none (got %s); drop --persona", name, strings.Join(opt.Personas, ", "))
	}
	for _, p := range opt.Personas {
		if err := simenv.CheckPersona(p); err != nil {
			return "", err
		}
	}
	if opt.Budget.TrainSteps < 1 || opt.Budget.Episodes < 1 || opt.Budget.Sessions < 1 {
		return "", fmt.Errorf("experiments: budget %+v is invalid; train steps, episodes and sessions must be at least 1", opt.Budget)
	}

	progress := opt.Progress
	if progress != nil {
		total, done := s.units(opt), 0
		opt.Progress = func(int, int) { done++; progress(done, total) }
	}
	start, cpuStart := time.Now(), cpuTime()
	r, err := s.Run(opt)
	if err != nil {
		return "", err
	}
	b := opt.Budget
	r.Heading(2, "How this report was made")
	r.Para("Command, run from the repository root:")
	r.Code("sh", opt.Command)
	extra := ""
	if slices.Contains(s.uses, "checkpoints") {
		extra += fmt.Sprintf(", %d checkpoints per training run", b.Checkpoints)
	}
	if slices.Contains(s.uses, "points") {
		extra += fmt.Sprintf(", %d evaluation points per training run after its start", b.Points)
	}
	r.Para("Budget `%s`: %d shopper-steps per training run with %d sessions in parallel, %d evaluation sessions per recommender and persona%s; seed %d. "+
		"Every training and evaluation stream derives from the seed, so the command reproduces the figures exactly, though not the times. "+
		"The run took %s of wall time and %s of CPU time, on a machine with %d logical CPUs.",
		b.Name, b.TrainSteps, b.Sessions, b.Episodes, extra, opt.Seed,
		time.Since(start).Round(time.Second), (cpuTime() - cpuStart).Round(time.Second), runtime.NumCPU())
	return r.Write()
}

// tick reports one unit of work done.
func (o *Options) tick() {
	if o.Progress != nil {
		o.Progress(0, 0)
	}
}

// cpuTime returns the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano()) + time.Duration(u.Stime.Nano())
}
