// Package dashboard serves SimShop's web dashboard: a live shop that steps one simulated
// shopper through a recommender's slates, the learning curves of a training run, and bar
// charts that compare recommenders. Its page, script and styles are embedded in the binary
// and load nothing from other hosts, so it works offline.
package dashboard

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

//go:embed assets
var assets embed.FS

// DefaultAddr is the dashboard's default address: loopback only, on the port that
// Streamlit also uses by default.
const DefaultAddr = "127.0.0.1:8501"

// Defaults of Options.
const (
	DefaultMaxShops           = 8
	DefaultShopIdle           = 10 * time.Minute
	DefaultPollEvery          = 250 * time.Millisecond
	DefaultMaxCompareEpisodes = 1000
)

// maxRequestBody bounds the body of every request, in bytes. The largest valid body, a
// shop request, takes a few hundred bytes.
const maxRequestBody = 16 << 10

// heartbeatEvery is the time between keep-alive comments on an idle metrics stream, which
// let the server notice a closed tab even while training logs nothing.
const heartbeatEvery = 15 * time.Second

// streamWriteTimeout bounds one write to a metrics stream. A viewer whose connection takes
// no data for that long is disconnected, so that it cannot hold its handler forever.
const streamWriteTimeout = 30 * time.Second

// Options sets up a Server.
type Options struct {
	// RunDir is the run folder whose metrics.csv and evals.csv the training view follows,
	// whose checkpoints/*.msgpack the live shop may load, and whose compare.json the compare
	// view shows. Empty means none. No request reads a file outside it.
	RunDir string
	// Catalog is the catalog of live shops with a baseline or the oracle. A shop with a
	// checkpoint uses the catalog embedded in the checkpoint.
	Catalog *simenv.Catalog

	MaxShops           int           // live shops open at once; 0 means DefaultMaxShops
	ShopIdle           time.Duration // a live shop unused this long may be closed; 0 means DefaultShopIdle
	PollEvery          time.Duration // time between reads of the run's metrics files; 0 means DefaultPollEvery
	MaxCompareEpisodes int           // evaluation sessions per recommender of one comparison; 0 means DefaultMaxCompareEpisodes
}

// Server is the dashboard's HTTP handler. Create it with New and stop it with Close.
type Server struct {
	opt     Options
	metrics *Broadcaster[Point]
	mux     *http.ServeMux

	ctx          context.Context // cancelled by Close; ends the metrics streams
	writeTimeout time.Duration   // of one write to a metrics stream; streamWriteTimeout outside tests
	cancel       context.CancelFunc
	tailing      sync.WaitGroup

	mu     sync.Mutex
	shops  map[string]*shop
	closed bool

	comparing      sync.Mutex // held while a comparison runs; one runs at a time
	compareMu      sync.Mutex
	compareResults []rl.Result
}

// New returns a Server for opt. When opt.RunDir is set it starts following the run's
// metrics files at once.
func New(opt Options) (*Server, error) {
	if opt.Catalog == nil {
		return nil, errors.New("dashboard: no catalog; pass the catalog of live shops")
	}
	if opt.MaxShops == 0 {
		opt.MaxShops = DefaultMaxShops
	}
	if opt.ShopIdle == 0 {
		opt.ShopIdle = DefaultShopIdle
	}
	if opt.PollEvery == 0 {
		opt.PollEvery = DefaultPollEvery
	}
	if opt.MaxCompareEpisodes == 0 {
		opt.MaxCompareEpisodes = DefaultMaxCompareEpisodes
	}
	if opt.MaxShops < 1 || opt.ShopIdle < 0 || opt.PollEvery < 0 || opt.MaxCompareEpisodes < 1 {
		return nil, fmt.Errorf("dashboard: invalid limits: %d shops, idle %v, poll %v, %d comparison episodes; each must be positive",
			opt.MaxShops, opt.ShopIdle, opt.PollEvery, opt.MaxCompareEpisodes)
	}
	if opt.RunDir != "" {
		st, err := os.Stat(opt.RunDir)
		if err != nil {
			return nil, fmt.Errorf("dashboard: run folder: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("dashboard: run folder %s is not a folder; pass the --out folder of a training run", opt.RunDir)
		}
	}

	s := &Server{opt: opt, metrics: NewBroadcaster[Point](), shops: map[string]*shop{}, writeTimeout: streamWriteTimeout}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	if opt.RunDir != "" {
		t := newRunTailer(opt.RunDir, s.metrics, opt.PollEvery)
		s.tailing.Add(1)
		go func() {
			defer s.tailing.Done()
			t.run(s.ctx)
		}()
	}
	return s, nil
}

// Metrics returns the stream of the run's metrics rows that the training view shows.
func (s *Server) Metrics() *Broadcaster[Point] { return s.metrics }

// Close stops following the run's files and ends every metrics stream. It does not stop
// the http.Server that serves s.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.tailing.Wait()
	s.metrics.Close()
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Everything the page needs comes from this server.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic("dashboard: embedded assets missing: " + err.Error())
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	s.mux.HandleFunc("GET /api/info", s.handleInfo)
	s.mux.HandleFunc("POST /api/shops", s.handleNewShop)
	s.mux.HandleFunc("POST /api/shops/{id}/step", s.handleStep)
	s.mux.HandleFunc("POST /api/shops/{id}/close", s.handleCloseShop)
	s.mux.HandleFunc("DELETE /api/shops/{id}", s.handleCloseShop)
	s.mux.HandleFunc("GET /api/train/points", s.handlePoints)
	s.mux.HandleFunc("GET /api/train/stream", s.handleStream)
	s.mux.HandleFunc("GET /api/compare", s.handleCompareResults)
	s.mux.HandleFunc("POST /api/compare", s.handleCompare)
}

// httpError is an error with the HTTP status of its response.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// writeJSON writes v as the JSON body of a 200 response.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// writeError sends err as JSON {"error": message} with its status: 500 unless err is an
// httpError or a request body that was too large.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var he *httpError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		status = he.status
	case errors.As(err, &tooLarge):
		status = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("request body larger than %d bytes", tooLarge.Limit)
	default:
		slog.Error("dashboard request failed", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// decodeBody decodes a JSON request body into v, rejecting unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return badRequest("invalid JSON request body: %v", err)
	}
	return nil
}

// Info describes what the dashboard offers; the page builds its menus from it.
type Info struct {
	RunDir       string   `json:"run_dir"` // the run folder's base name; empty without one
	Catalog      string   `json:"catalog"`
	Items        int      `json:"items"`
	Categories   int      `json:"categories"`
	Personas     []string `json:"personas"`
	Baselines    []string `json:"baselines"`
	Checkpoints  []string `json:"checkpoints"` // names of RUN/checkpoints/NAME.msgpack
	ChoiceModels []string `json:"choice_models"`
	Rewards      []string `json:"rewards"`
	MaxShops     int      `json:"max_shops"`
	MaxSteps     int      `json:"max_steps_per_request"`
	MaxEpisodes  int      `json:"max_compare_episodes"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	info := Info{
		Catalog: s.opt.Catalog.Source, Items: s.opt.Catalog.Len(), Categories: len(s.opt.Catalog.Categories),
		Personas: simenv.PersonaNames, Baselines: append(slices.Clone(rl.BaselineNames), "oracle"),
		ChoiceModels: simenv.ChoiceModelNames, Rewards: simenv.RewardNames,
		MaxShops: s.opt.MaxShops, MaxSteps: maxStepsPerRequest, MaxEpisodes: s.opt.MaxCompareEpisodes,
		Checkpoints: []string{},
	}
	if s.opt.RunDir != "" {
		info.RunDir = filepath.Base(s.opt.RunDir)
		names, err := s.checkpointNames()
		if err != nil {
			writeError(w, err)
			return
		}
		info.Checkpoints = names
	}
	writeJSON(w, info)
}

// checkpointName is the form of a checkpoint name in a request: a file name without its
// folder or extension.
var checkpointName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// checkpointNames lists the checkpoints of the run folder: latest and best first, then the
// step checkpoints, newest first.
func (s *Server) checkpointNames() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.opt.RunDir, "checkpoints"))
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".msgpack")
		if ok && e.Type().IsRegular() && checkpointName.MatchString(name) {
			names = append(names, name)
		}
	}
	rank := func(n string) int {
		switch n {
		case "latest":
			return 0
		case "best":
			return 1
		}
		return 2
	}
	sort.SliceStable(names, func(a, b int) bool {
		if ra, rb := rank(names[a]), rank(names[b]); ra != rb {
			return ra < rb
		}
		return names[a] > names[b]
	})
	return names, nil
}

// checkpointPath returns the file of the run's checkpoint name. It rejects any name that
// is not listed in the run's checkpoints folder, so no request reaches another file.
func (s *Server) checkpointPath(name string) (string, error) {
	if s.opt.RunDir == "" {
		return "", badRequest("checkpoint %q: the dashboard has no run folder; start it with --run DIR to load checkpoints", name)
	}
	if !checkpointName.MatchString(name) || !filepath.IsLocal(name) {
		return "", badRequest("checkpoint name %q is invalid; use a name from /api/info, such as latest", name)
	}
	names, err := s.checkpointNames()
	if err != nil {
		return "", err
	}
	if !slices.Contains(names, name) {
		return "", &httpError{http.StatusNotFound, fmt.Sprintf("checkpoint %q not found in the run folder; available: %s", name, strings.Join(names, ", "))}
	}
	return filepath.Join(s.opt.RunDir, "checkpoints", name+".msgpack"), nil
}

// loadCheckpoint loads the run's checkpoint name, a DQN or REINFORCE agent, as a greedy
// agent on its embedded catalog.
func (s *Server) loadCheckpoint(name string) (rl.Agent, *simenv.Catalog, simenv.Config, error) {
	path, err := s.checkpointPath(name)
	if err != nil {
		return nil, nil, simenv.Config{}, err
	}
	f, err := checkpoints.Load(path)
	if err != nil {
		return nil, nil, simenv.Config{}, &httpError{http.StatusUnprocessableEntity, err.Error()}
	}
	if f.Metadata.Agent == "slateq" {
		return nil, nil, simenv.Config{}, &httpError{http.StatusUnprocessableEntity, fmt.Sprintf(
			"checkpoint %s contains a SlateQ agent of RecSim's scenario, which the dashboard cannot show; evaluate it with simshop-train eval --model", name)}
	}
	agent, cat, err := rl.LoadAgent(f, nil)
	if err != nil {
		return nil, nil, simenv.Config{}, &httpError{http.StatusUnprocessableEntity, fmt.Sprintf("load checkpoint %s: %v", name, err)}
	}
	agent.SetGreedy(true)
	return agent, cat, f.Metadata.Shop.WithDefaults(), nil
}

// ShopCreated is the response to a request that opens a live shop.
type ShopCreated struct {
	ID          string `json:"id"`
	Recommender string `json:"recommender"`
	Persona     string `json:"persona"`
	Catalog     string `json:"catalog"`
	Items       int    `json:"items"`
}

func (s *Server) handleNewShop(w http.ResponseWriter, r *http.Request) {
	var req ShopRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	sh, err := s.newShop(req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, ShopCreated{ID: sh.id, Recommender: sh.rec.Name(), Persona: sh.env.Config.Persona, Catalog: sh.catalog.Source, Items: sh.catalog.Len()})
}

// newShop checks req, builds its recommender and registers the shop.
func (s *Server) newShop(req ShopRequest) (*shop, error) {
	if _, err := simenv.ParsePopulation(req.Persona); err != nil {
		return nil, badRequest("%v", err)
	}
	cat := s.opt.Catalog
	cfg := simenv.Config{Persona: req.Persona}
	var rec rl.Recommender
	var agent rl.Agent
	switch name, isCheckpoint := strings.CutPrefix(req.Recommender, "checkpoint:"); {
	case isCheckpoint:
		var trained simenv.Config
		var err error
		if agent, cat, trained, err = s.loadCheckpoint(name); err != nil {
			return nil, err
		}
		// The model plays in the shop it was trained in, frozen at its last training step,
		// with the shoppers of the request.
		cfg = trained
		cfg.Persona = req.Persona
		if cfg.Drift, err = simenv.FreezeDrift(cfg.Drift, agent.TrainedSteps(), cat); err != nil {
			return nil, &httpError{http.StatusUnprocessableEntity, err.Error()}
		}
		rec = namedAgent{agent, agent.Name() + ":" + name}
	case req.Recommender == "oracle":
		rec = rl.NewOracle(cat, simenv.DefaultSlateSize)
	default:
		var err error
		if rec, err = rl.NewBaseline(req.Recommender, cat, cfg, 1); err != nil {
			return nil, badRequest("recommender %q is unknown; use one of %s, oracle, or checkpoint:NAME", req.Recommender, strings.Join(rl.BaselineNames, ", "))
		}
	}
	if req.Reward != "" {
		cfg.Reward = req.Reward
	}
	if req.ChoiceModel != "" {
		cfg.ChoiceModel = req.ChoiceModel
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(cat); err != nil {
		return nil, badRequest("%v", err)
	}

	id, err := newID()
	if err != nil {
		return nil, err
	}
	sh, err := newShop(id, req, cat, cfg, rec, agent)
	if err != nil {
		return nil, badRequest("%v", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &httpError{http.StatusServiceUnavailable, "the dashboard is shutting down"}
	}
	s.closeIdleShops()
	if len(s.shops) >= s.opt.MaxShops {
		return nil, &httpError{http.StatusTooManyRequests, fmt.Sprintf("%d live shops are open, the limit; close a dashboard tab, or wait until a shop has been idle for %v",
			len(s.shops), s.opt.ShopIdle)}
	}
	s.shops[id] = sh
	slog.Info("live shop opened", "id", id, "recommender", rec.Name(), "persona", cfg.Persona, "open", len(s.shops))
	return sh, nil
}

// closeIdleShops removes the shops unused for ShopIdle. The caller holds s.mu.
func (s *Server) closeIdleShops() {
	for id, sh := range s.shops {
		sh.mu.Lock()
		idle := time.Since(sh.lastUsed)
		sh.mu.Unlock()
		if idle >= s.opt.ShopIdle {
			delete(s.shops, id)
			slog.Info("live shop closed after idling", "id", id, "idle", idle.Round(time.Second))
		}
	}
}

// namedAgent reports a checkpoint's agent under the checkpoint's name.
type namedAgent struct {
	rl.Agent
	name string
}

func (n namedAgent) Name() string { return n.name }

func newID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (s *Server) shop(id string) (*shop, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shops[id]
	if !ok {
		return nil, &httpError{http.StatusNotFound, fmt.Sprintf("live shop %q not found; it was closed or idled out; start a new one", id)}
	}
	return sh, nil
}

func (s *Server) handleStep(w http.ResponseWriter, r *http.Request) {
	sh, err := s.shop(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	n := 1
	if v := r.URL.Query().Get("n"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > maxStepsPerRequest {
			writeError(w, badRequest("n=%q is invalid; step 1 to %d slates per request", v, maxStepsPerRequest))
			return
		}
	}
	views, err := sh.step(n)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, views)
}

func (s *Server) handleCloseShop(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	_, ok := s.shops[id]
	delete(s.shops, id)
	open := len(s.shops)
	s.mu.Unlock()
	if !ok {
		writeError(w, &httpError{http.StatusNotFound, fmt.Sprintf("live shop %q not found", id)})
		return
	}
	slog.Info("live shop closed", "id", id, "open", open)
	w.WriteHeader(http.StatusNoContent)
}

// OpenShops returns the number of live shops.
func (s *Server) OpenShops() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.shops)
}

// handlePoints writes every metrics row kept so far, as a JSON array.
func (s *Server) handlePoints(w http.ResponseWriter, r *http.Request) {
	rows, _ := s.metrics.Since(0)
	if rows == nil {
		rows = []Point{}
	}
	writeJSON(w, rows)
}

// maxEventRows bounds the rows of one server-sent event, so that a viewer that joins a
// long run receives its history in pieces.
const maxEventRows = 500

// handleStream sends the run's metrics rows as server-sent events: every row kept, then
// each new one as it arrives. Each event's data is a JSON array of Points and its id is
// the sequence number of its last row, so a reconnecting browser resumes after it. The
// handler returns when the client leaves or the server closes.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	from := 0
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		if id, err := strconv.Atoi(last); err == nil && id >= 0 {
			from = id + 1
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	sub := s.metrics.Subscribe(from)
	defer sub.Cancel()
	rc := http.NewResponseController(w)
	send := func(format string, args ...any) error {
		if err := rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return err
		}
		return rc.Flush()
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := send("retry: 2000\n\n"); err != nil {
		return
	}
	for {
		wait, stop := context.WithTimeout(ctx, heartbeatEvery)
		rows, first, ok := sub.Next(wait)
		timedOut := wait.Err() != nil && ctx.Err() == nil
		stop()
		if !ok && timedOut {
			if err := send(": keep-alive\n\n"); err != nil {
				return
			}
			continue
		}
		if !ok {
			return // the client left or the server closed
		}
		for len(rows) > 0 {
			part := rows[:min(len(rows), maxEventRows)]
			data, err := json.Marshal(part)
			if err != nil {
				slog.Error("encode metrics event", "err", err)
				return
			}
			first += len(part)
			if err := send("id: %d\ndata: %s\n\n", first-1, data); err != nil {
				slog.Debug("metrics viewer left", "err", err)
				return
			}
			rows = rows[len(part):]
		}
	}
}
