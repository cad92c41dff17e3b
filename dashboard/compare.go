package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// CompareFile is the file in the run folder whose results the compare view shows, as
// `simshop-train compare --json` writes them.
const CompareFile = "compare.json"

// maxCompareFile bounds the size of CompareFile, in bytes; 10,000 results take about 3 MB.
const maxCompareFile = 8 << 20

// CompareResults is the response to GET /api/compare.
type CompareResults struct {
	File   []rl.Result `json:"file"`   // from RUN/compare.json
	Server []rl.Result `json:"server"` // from the last comparison run by this server
	Note   string      `json:"note,omitempty"`
}

func (s *Server) handleCompareResults(w http.ResponseWriter, r *http.Request) {
	res := CompareResults{File: []rl.Result{}}
	if s.opt.RunDir != "" {
		file, err := readCompareFile(filepath.Join(s.opt.RunDir, CompareFile))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			res.Note = fmt.Sprintf("no %s in the run folder; write one with compare --json > RUN/%s, or run a comparison here", CompareFile, CompareFile)
		case err != nil:
			res.Note = err.Error()
		default:
			res.File = file
		}
	}
	s.compareMu.Lock()
	res.Server = slices.Clone(s.compareResults)
	s.compareMu.Unlock()
	if res.Server == nil {
		res.Server = []rl.Result{}
	}
	writeJSON(w, res)
}

// readCompareFile reads a JSON array of results.
func readCompareFile(path string) ([]rl.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCompareFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCompareFile {
		return nil, fmt.Errorf("%s is larger than %d bytes; split the comparison", CompareFile, maxCompareFile)
	}
	var results []rl.Result
	if err := json.Unmarshal(data, &results); err != nil {
		return nil, fmt.Errorf("%s is not the JSON array that compare --json prints: %v", CompareFile, err)
	}
	for i := range results {
		sanitizeResult(&results[i])
	}
	return results, nil
}

// sanitizeResult replaces non-finite figures, which JSON cannot carry, with 0.
func sanitizeResult(r *rl.Result) {
	for _, v := range []*float64{&r.CTR, &r.PurchaseRate, &r.RewardPerStep, &r.RewardPerStepCI95, &r.ReturnMean,
		&r.ReturnCI95, &r.SessionLength, &r.Coverage, &r.Diversity} {
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			*v = 0
		}
	}
}

// CompareRequest runs a comparison in the server.
type CompareRequest struct {
	Persona  string `json:"persona"`  // a persona, a population, or "all" for each persona in turn
	Episodes int    `json:"episodes"` // evaluation sessions per recommender and persona
	Seed     uint64 `json:"seed"`
}

// handleCompare evaluates every baseline, the oracle and the run's latest and best
// checkpoints on the requested personas, as compare does, and keeps the results for GET.
// One comparison runs at a time, and it stops when the client leaves.
func (s *Server) handleCompare(w http.ResponseWriter, r *http.Request) {
	var req CompareRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Episodes < 1 || req.Episodes > s.opt.MaxCompareEpisodes {
		writeError(w, badRequest("episodes %d is invalid; use 1 to %d", req.Episodes, s.opt.MaxCompareEpisodes))
		return
	}
	personas := []string{req.Persona}
	if req.Persona == "all" {
		personas = simenv.PersonaNames
	} else if _, err := simenv.ParsePopulation(req.Persona); err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	if !s.comparing.TryLock() {
		writeError(w, &httpError{http.StatusTooManyRequests, "a comparison is already running; wait for it to finish"})
		return
	}
	defer s.comparing.Unlock()

	results, err := s.compare(r, personas, req)
	if err != nil {
		writeError(w, err)
		return
	}
	s.compareMu.Lock()
	s.compareResults = results
	s.compareMu.Unlock()
	writeJSON(w, results)
}

func (s *Server) compare(r *http.Request, personas []string, req CompareRequest) ([]rl.Result, error) {
	type model struct {
		name  string
		agent rl.Agent
		cat   *simenv.Catalog
		shop  simenv.Config
	}
	var models []model
	if s.opt.RunDir != "" {
		names, err := s.checkpointNames()
		if err != nil {
			return nil, err
		}
		for _, name := range []string{"latest", "best"} {
			if !slices.Contains(names, name) {
				continue
			}
			agent, cat, shop, err := s.loadCheckpoint(name)
			if err != nil {
				return nil, err
			}
			models = append(models, model{agent.Name() + ":" + name, agent, cat, shop})
		}
	}
	// Every recommender meets the shop the run trained in (reward, session length, choice
	// model, budgets, returns), with each persona in turn and without the run's drift, on the
	// models' catalog, as in compare --model. Without a model, the shop has the defaults.
	cat, base := s.opt.Catalog, simenv.Config{}
	if len(models) > 0 {
		cat, base = models[0].cat, models[0].shop
		base.Drift = ""
	}
	opt := rl.EvalOptions{Episodes: req.Episodes, Seed: req.Seed, Sessions: 32, Context: r.Context()}
	slog.Info("comparison started", "personas", strings.Join(personas, ","), "episodes", req.Episodes, "models", len(models))
	var results []rl.Result
	for _, persona := range personas {
		shop := base
		shop.Persona = persona
		shop = shop.WithDefaults()
		var recs []rl.Recommender
		for _, name := range rl.BaselineNames {
			b, err := rl.NewBaseline(name, cat, shop, opt.Sessions)
			if err != nil {
				return nil, err
			}
			recs = append(recs, b)
		}
		recs = append(recs, rl.NewOracle(cat, shop.SlateSize))
		for _, m := range models {
			recs = append(recs, namedAgent{m.agent, m.name})
		}
		for _, rec := range recs {
			res, err := rl.Evaluate(rec, cat, shop, opt)
			if err != nil {
				if r.Context().Err() != nil {
					return nil, &httpError{499, "comparison cancelled: the client left"}
				}
				return nil, badRequest("%v", err)
			}
			sanitizeResult(&res)
			results = append(results, res)
		}
	}
	slog.Info("comparison finished", "results", len(results))
	return results, nil
}
