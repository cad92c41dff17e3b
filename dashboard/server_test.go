package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
	"github.com/simshop/simshop/simenv/recsim"
)

// testCatalog returns the generated catalog of n items.
func testCatalog(t testing.TB, n int) *simenv.Catalog {
	t.Helper()
	cat, err := simenv.Generate(n, 1)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// writeCheckpoint saves an untrained DQN on cat as RUN/checkpoints/NAME.msgpack.
func writeCheckpoint(t testing.TB, run, name string, cat *simenv.Catalog) *rl.DQN {
	t.Helper()
	shop := simenv.Config{Persona: simenv.CheapBlue}.WithDefaults()
	cfg := rl.DefaultDQNConfig()
	cfg.Hidden = []int{8}
	d, err := rl.NewDQN(cfg, cat, shop, 7)
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Checkpoint(rl.RunInfo{Shop: shop, Seed: 7, Sessions: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.Save(filepath.Join(run, "checkpoints", name+".msgpack"), f); err != nil {
		t.Fatal(err)
	}
	return d
}

// newTestServer starts a Server for run (which may be empty) behind httptest.
func newTestServer(t testing.TB, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	if opt.Catalog == nil {
		opt.Catalog = testCatalog(t, 40)
	}
	if opt.PollEvery == 0 {
		opt.PollEvery = 10 * time.Millisecond
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return s, ts
}

// call sends a request and decodes its JSON response into out, which may be nil. It
// returns the status and, for an error response, its message.
func call(t testing.TB, method, url, body string, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode >= 400 {
		var e struct{ Error string }
		json.Unmarshal(data, &e)
		return res.StatusCode, e.Error
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, url, data, err)
		}
	}
	return res.StatusCode, ""
}

// openShop starts a live shop and returns its ID.
func openShop(t testing.TB, base, persona, recommender string, seed uint64) string {
	t.Helper()
	var created ShopCreated
	body := fmt.Sprintf(`{"persona":%q,"recommender":%q,"seed":%d}`, persona, recommender, seed)
	if code, msg := call(t, "POST", base+"/api/shops", body, &created); code != 200 {
		t.Fatalf("open shop %s: status %d: %s", body, code, msg)
	}
	return created.ID
}

// playEpisodes steps a live shop until episodes sessions have ended.
func playEpisodes(t testing.TB, base, id string, episodes int) []StepView {
	t.Helper()
	var all []StepView
	for ended := 0; ended < episodes; {
		var views []StepView
		if code, msg := call(t, "POST", base+"/api/shops/"+id+"/step?n=1", "", &views); code != 200 {
			t.Fatalf("step: status %d: %s", code, msg)
		}
		all = append(all, views...)
		if views[0].Done {
			ended++
		}
	}
	return all
}

func TestPageAndAssetsAreServed(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	for _, path := range []string{"/", "/assets/app.js", "/assets/style.css"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s: status %d; want 200", path, res.StatusCode)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q; want default-src 'self'", path, csp)
		}
	}
}

// TestAssetsLoadNothingFromOtherHosts checks that no embedded file refers to another host,
// so the page works offline. The SVG namespace is a name, not a request.
func TestAssetsLoadNothingFromOtherHosts(t *testing.T) {
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(data), `"http://www.w3.org/2000/svg"`, "")
		for _, scheme := range []string{"http://", "https://", "//cdn"} {
			if i := strings.Index(text, scheme); i >= 0 {
				t.Errorf("%s refers to another host: %q", path, text[i:min(len(text), i+60)])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInfoListsCheckpoints(t *testing.T) {
	run := t.TempDir()
	cat := testCatalog(t, 40)
	writeCheckpoint(t, run, "latest", cat)
	writeCheckpoint(t, run, "step-000000100", cat)
	writeCheckpoint(t, run, "best", cat)
	os.WriteFile(filepath.Join(run, "checkpoints", "notes.txt"), []byte("x"), 0o644)
	_, ts := newTestServer(t, Options{RunDir: run, Catalog: cat})
	var info Info
	call(t, "GET", ts.URL+"/api/info", "", &info)
	if got := strings.Join(info.Checkpoints, ","); got != "latest,best,step-000000100" {
		t.Errorf("checkpoints = %s; want latest,best,step-000000100", got)
	}
	if info.Items != 40 || info.RunDir != filepath.Base(run) {
		t.Errorf("info = %+v; want 40 items and run folder %s", info, filepath.Base(run))
	}
}

// TestShopMatchesEvaluate checks that a live shop meets the shoppers of evaluation
// episodes 0, 1, ... of the same seed: its running figures after 12 sessions equal those of
// rl.Evaluate with one session at a time.
func TestShopMatchesEvaluate(t *testing.T) {
	cat := testCatalog(t, 40)
	_, ts := newTestServer(t, Options{Catalog: cat})
	const episodes = 12
	for _, name := range []string{"popularity", "filtered", "linucb", "oracle"} {
		t.Run(name, func(t *testing.T) {
			id := openShop(t, ts.URL, "value_seeker", name, 5)
			views := playEpisodes(t, ts.URL, id, episodes)
			got := views[len(views)-1].Totals

			shop := simenv.Config{Persona: "value_seeker"}.WithDefaults()
			var rec rl.Recommender = rl.NewOracle(cat, shop.SlateSize)
			if name != "oracle" {
				var err error
				if rec, err = rl.NewBaseline(name, cat, shop, 1); err != nil {
					t.Fatal(err)
				}
			}
			want, err := rl.Evaluate(rec, cat, shop, rl.EvalOptions{Episodes: episodes, Seed: 5, Sessions: 1})
			if err != nil {
				t.Fatal(err)
			}
			if got.Sessions != episodes {
				t.Fatalf("sessions = %d; want %d", got.Sessions, episodes)
			}
			if math.Abs(got.ReturnMean-want.ReturnMean) > 1e-9 {
				t.Errorf("mean return = %v; want Evaluate's %v", got.ReturnMean, want.ReturnMean)
			}
			if math.Abs(got.CTR-want.CTR) > 1e-12 || math.Abs(got.PurchaseRate-want.PurchaseRate) > 1e-12 {
				t.Errorf("CTR, purchase rate = %v, %v; want Evaluate's %v, %v", got.CTR, got.PurchaseRate, want.CTR, want.PurchaseRate)
			}
		})
	}
}

// TestShopStepViewsAgree checks every step's cards, reward and running figures against
// each other.
func TestShopStepViewsAgree(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	id := openShop(t, ts.URL, "category_fatigue:0.5,budget_buyer:0.5", "filtered", 3)
	views := playEpisodes(t, ts.URL, id, 6)
	var clicks, purchases int64
	var reward float64
	sawFatigue, sawBudget := false, false
	for i, v := range views {
		if len(v.Cards) != simenv.DefaultSlateSize {
			t.Fatalf("step %d: %d cards; want %d", i, len(v.Cards), simenv.DefaultSlateSize)
		}
		clicked := 0
		probs := 0.0
		for _, c := range v.Cards {
			switch c.Reaction {
			case "clicked":
				clicked++
			case "bought":
				clicked++
				purchases++
			case "ignored":
			default:
				t.Fatalf("step %d: reaction %q", i, c.Reaction)
			}
			if c.Exposure < 1 {
				t.Errorf("step %d: card %s shown %d times; want at least this once", i, c.ID, c.Exposure)
			}
			probs += c.ClickProb
		}
		if clicked > 1 {
			t.Fatalf("step %d: %d clicked cards; want at most 1", i, clicked)
		}
		if probs <= 0 || probs >= 1 {
			t.Errorf("step %d: click probabilities sum to %v; want a value in (0, 1)", i, probs)
		}
		clicks += int64(clicked)
		reward += v.Reward
		if v.Totals.Steps != int64(i+1) || v.Totals.Clicks != clicks || v.Totals.Purchases != purchases {
			t.Fatalf("step %d: totals %+v; want %d steps, %d clicks, %d purchases", i, v.Totals, i+1, clicks, purchases)
		}
		if math.Abs(v.Totals.Reward-reward) > 1e-9 {
			t.Fatalf("step %d: total reward %v; want %v", i, v.Totals.Reward, reward)
		}
		if v.State.Persona == simenv.CategoryFatigue && len(v.State.Fatigue) > 0 {
			sawFatigue = true
		}
		if v.State.Persona == simenv.BudgetBuyer && v.State.HasBudget {
			sawBudget = true
		}
		if v.Explain.Note == "" {
			t.Errorf("step %d: no explanation note", i)
		}
	}
	if !sawFatigue || !sawBudget {
		t.Errorf("fatigue shown %v, budget shown %v; want both across a mix of category_fatigue and budget_buyer", sawFatigue, sawBudget)
	}
}

// TestCheckpointShopExplainsByQ checks that a checkpoint's slate is its 3 items of highest
// Q-value and that the explanation lists them first.
func TestCheckpointShopExplainsByQ(t *testing.T) {
	run := t.TempDir()
	cat := testCatalog(t, 40)
	writeCheckpoint(t, run, "latest", cat)
	_, ts := newTestServer(t, Options{RunDir: run, Catalog: cat})
	id := openShop(t, ts.URL, "cheap_blue", "checkpoint:latest", 1)
	var views []StepView
	if code, msg := call(t, "POST", ts.URL+"/api/shops/"+id+"/step?n=5", "", &views); code != 200 {
		t.Fatalf("step: %d %s", code, msg)
	}
	for i, v := range views {
		if v.Explain.Kind != "Q-value" || len(v.Explain.Items) != explainedItems {
			t.Fatalf("step %d: explanation %q with %d items; want Q-values of %d items", i, v.Explain.Kind, len(v.Explain.Items), explainedItems)
		}
		for k, it := range v.Explain.Items {
			if it.InSlate != (k < 3) {
				t.Errorf("step %d: item %d of the explanation (%s) in slate = %v; want the top 3 in the slate", i, k, it.Name, it.InSlate)
			}
		}
	}
}

func TestShopRejectsBadRequests(t *testing.T) {
	run := t.TempDir()
	cat := testCatalog(t, 40)
	writeCheckpoint(t, run, "latest", cat)
	_, ts := newTestServer(t, Options{RunDir: run, Catalog: cat})
	id := openShop(t, ts.URL, "cheap_blue", "random", 1)
	cases := []struct {
		name, method, path, body string
		status                   int
		message                  string
	}{
		{"unknown persona", "POST", "/api/shops", `{"persona":"bargain","recommender":"random"}`, 400, `unknown persona "bargain"`},
		{"unknown recommender", "POST", "/api/shops", `{"persona":"cheap_blue","recommender":"best"}`, 400, `recommender "best" is unknown`},
		{"unknown field", "POST", "/api/shops", `{"persona":"cheap_blue","recommender":"random","x":1}`, 400, "unknown field"},
		{"not JSON", "POST", "/api/shops", `persona=cheap_blue`, 400, "invalid JSON"},
		{"bad choice model", "POST", "/api/shops", `{"persona":"cheap_blue","recommender":"random","choice_model":"logit"}`, 400, "logit"},
		{"body too large", "POST", "/api/shops", `{"persona":"` + strings.Repeat("a", maxRequestBody) + `"}`, 413, "larger than"},
		{"path in checkpoint", "POST", "/api/shops", `{"persona":"cheap_blue","recommender":"checkpoint:../checkpoints/latest"}`, 400, "invalid"},
		{"absolute checkpoint", "POST", "/api/shops", `{"persona":"cheap_blue","recommender":"checkpoint:/etc/passwd"}`, 400, "invalid"},
		{"missing checkpoint", "POST", "/api/shops", `{"persona":"cheap_blue","recommender":"checkpoint:best"}`, 404, "available: latest"},
		{"zero steps", "POST", "/api/shops/" + id + "/step?n=0", "", 400, "step 1 to 50"},
		{"too many steps", "POST", "/api/shops/" + id + "/step?n=51", "", 400, "step 1 to 50"},
		{"unknown shop", "POST", "/api/shops/feed/step", "", 404, "not found"},
		{"too many episodes", "POST", "/api/compare", `{"persona":"cheap_blue","episodes":1001}`, 400, "use 1 to 1000"},
		{"compare persona", "POST", "/api/compare", `{"persona":"nobody","episodes":5}`, 400, "unknown persona"},
		{"wrong method", "GET", "/api/shops", "", 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, msg := call(t, c.method, ts.URL+c.path, c.body, nil)
			if code != c.status {
				t.Errorf("status = %d (%s); want %d", code, msg, c.status)
			}
			if !strings.Contains(msg, c.message) {
				t.Errorf("message = %q; want it to contain %q", msg, c.message)
			}
		})
	}
}

func TestCheckpointNameOutsideRunIsRejected(t *testing.T) {
	parent := t.TempDir()
	run := filepath.Join(parent, "run")
	cat := testCatalog(t, 40)
	writeCheckpoint(t, run, "latest", cat)
	writeCheckpoint(t, parent, "outside", cat) // parent/checkpoints/outside.msgpack
	s, _ := newTestServer(t, Options{RunDir: run, Catalog: cat})
	for _, name := range []string{"../../checkpoints/outside", "..", "outside", "latest.msgpack/..", ""} {
		if path, err := s.checkpointPath(name); err == nil {
			t.Errorf("checkpointPath(%q) = %s; want an error", name, path)
		}
	}
}

func TestShopLimit(t *testing.T) {
	s, ts := newTestServer(t, Options{MaxShops: 2, ShopIdle: time.Hour})
	first := openShop(t, ts.URL, "cheap_blue", "random", 1)
	openShop(t, ts.URL, "cheap_blue", "random", 2)
	code, msg := call(t, "POST", ts.URL+"/api/shops", `{"persona":"cheap_blue","recommender":"random"}`, nil)
	if code != http.StatusTooManyRequests || !strings.Contains(msg, "2 live shops are open") {
		t.Fatalf("third shop: status %d (%s); want 429", code, msg)
	}
	if code, _ := call(t, "DELETE", ts.URL+"/api/shops/"+first, "", nil); code != http.StatusNoContent {
		t.Fatalf("close shop: status %d; want 204", code)
	}
	openShop(t, ts.URL, "cheap_blue", "random", 3)
	if n := s.OpenShops(); n != 2 {
		t.Errorf("open shops = %d; want 2", n)
	}
}

func TestIdleShopsAreClosed(t *testing.T) {
	s, ts := newTestServer(t, Options{MaxShops: 1, ShopIdle: 50 * time.Millisecond})
	openShop(t, ts.URL, "cheap_blue", "random", 1)
	time.Sleep(60 * time.Millisecond)
	openShop(t, ts.URL, "cheap_blue", "random", 2) // replaces the idle one
	if n := s.OpenShops(); n != 1 {
		t.Errorf("open shops = %d; want 1", n)
	}
}

// appendLines appends text to a file, creating it.
func appendLines(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// sseEvent is one event of a metrics stream.
type sseEvent struct {
	id     string
	points []Point
}

// readEvents reads server-sent events from r into a channel until r ends.
func readEvents(t testing.TB, r io.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &ev.points); err != nil {
					t.Errorf("event data %s: %v", line, err)
					return
				}
			case line == "" && ev.points != nil:
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return ch
}

// nextEvent waits for the next event, for at most 5 s.
func nextEvent(t testing.TB, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return sseEvent{}
}

const metricsHeaderLine = "env_steps,episodes,updates,epsilon,loss,return_mean,ctr,steps_per_second,purchase_rate\n"

// TestStreamFollowsMetricsFiles checks that the stream sends the rows of metrics.csv and
// evals.csv as the run appends them, and resumes after Last-Event-ID.
func TestStreamFollowsMetricsFiles(t *testing.T) {
	run := t.TempDir()
	metrics := filepath.Join(run, "metrics.csv")
	appendLines(t, metrics, metricsHeaderLine+"100,5,0,0.99,NaN,3.5,0.25,1500,0.05\n")
	_, ts := newTestServer(t, Options{RunDir: run})

	res, err := http.Get(ts.URL + "/api/train/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q; want text/event-stream", ct)
	}
	events := readEvents(t, res.Body)
	ev := nextEvent(t, events)
	if len(ev.points) != 1 || ev.id != "0" {
		t.Fatalf("first event: id %s, %d points; want id 0 with 1 point", ev.id, len(ev.points))
	}
	p := ev.points[0]
	if p.Source != "train" || p.Step != 100 || p.Values["ctr"] != 0.25 || p.Values["purchase_rate"] != 0.05 {
		t.Errorf("first point = %+v; want training step 100 with ctr 0.25 and purchase rate 0.05", p)
	}
	if _, ok := p.Values["loss"]; ok {
		t.Errorf("point has loss %v; want NaN left out", p.Values["loss"])
	}

	// A row written in two pieces arrives once, whole.
	appendLines(t, metrics, "200,9,3,0.98,0.5,")
	time.Sleep(50 * time.Millisecond)
	appendLines(t, metrics, "4.5,0.3,1600,0.07\n")
	appendLines(t, filepath.Join(run, "evals.csv"), "env_steps,reward_per_step,reward_per_step_ci95,ctr,purchase_rate,return_mean,episodes\n200,1.5,0.2,0.4,0.1,12,100\n")
	var got []Point
	for len(got) < 2 {
		got = append(got, nextEvent(t, events).points...)
	}
	if got[0].Step != 200 || got[0].Values["loss"] != 0.5 || got[0].Values["return_mean"] != 4.5 {
		t.Errorf("second training point = %+v; want step 200, loss 0.5, return 4.5", got[0])
	}
	if got[1].Source != "eval" || got[1].Values["reward_per_step"] != 1.5 {
		t.Errorf("evaluation point = %+v; want reward per step 1.5", got[1])
	}

	// A client that reconnects after event 0 receives the rest only.
	req, _ := http.NewRequest("GET", ts.URL+"/api/train/stream", nil)
	req.Header.Set("Last-Event-ID", "0")
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	ev = nextEvent(t, readEvents(t, res2.Body))
	if len(ev.points) != 2 || ev.points[0].Step != 200 || ev.id != "2" {
		t.Errorf("resumed stream: id %s, points %+v; want the 2 rows after event 0", ev.id, ev.points)
	}

	var all []Point
	call(t, "GET", ts.URL+"/api/train/points", "", &all)
	if len(all) != 3 {
		t.Errorf("GET /api/train/points: %d points; want 3", len(all))
	}
}

// TestOlderMetricsFile checks that a metrics.csv without purchase_rate, from before the
// column existed, is read by name.
func TestOlderMetricsFile(t *testing.T) {
	run := t.TempDir()
	f := &tailedFile{path: filepath.Join(run, "metrics.csv"), source: "train"}
	defer f.close()
	appendLines(t, f.path, "env_steps,episodes,updates,epsilon,loss,return_mean,ctr,steps_per_second\n5000,10,4,0.9,0.1,7,0.3,2000\n")
	points, err := f.poll()
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 1 || points[0].Values["steps_per_second"] != 2000 || len(points[0].Values) != 7 {
		t.Fatalf("points = %+v; want one row with 7 values", points)
	}

	// A replaced file, as train --force leaves, is read again from its start, after a reset.
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path, []byte(metricsHeaderLine+"16,1,0,1,NaN,NaN,0,100,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	points, err = f.poll()
	if err != nil || len(points) != 2 || points[0].Source != "reset" || points[1].Step != 16 || len(points[1].Values) != 6 {
		t.Errorf("after replacement: points %+v, err %v; want a reset and the new file's row", points, err)
	}
}

// TestClosedTabsLeakNoGoroutine connects 20 viewers to the metrics stream, closes them,
// and checks that their handlers end and the goroutine count returns to where it was.
func TestClosedTabsLeakNoGoroutine(t *testing.T) {
	run := t.TempDir()
	appendLines(t, filepath.Join(run, "metrics.csv"), metricsHeaderLine+"100,5,0,0.99,NaN,3.5,0.25,1500,0.05\n")
	s, ts := newTestServer(t, Options{RunDir: run})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	before := runtime.NumGoroutine()

	const viewers = 20
	var cancels []context.CancelFunc
	for range viewers {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/train/stream", nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, res.Body)
	}
	waitFor(t, "20 subscribers", func() bool { return s.Metrics().Subscribers() == viewers })
	for _, cancel := range cancels {
		cancel()
	}
	waitFor(t, "no subscribers", func() bool { return s.Metrics().Subscribers() == 0 })
	client.CloseIdleConnections()
	waitFor(t, fmt.Sprintf("at most %d goroutines", before), func() bool { return runtime.NumGoroutine() <= before })
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("timed out waiting for %s; goroutines:\n%s", what, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStalledViewerIsDisconnected connects a viewer that sends its request and then reads
// nothing. Once the connection's buffers are full, a write times out and the handler ends.
func TestStalledViewerIsDisconnected(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	s.writeTimeout = 100 * time.Millisecond
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprint(conn, "GET /api/train/stream HTTP/1.1\r\nHost: dashboard\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a subscriber", func() bool { return s.Metrics().Subscribers() == 1 })

	// 100,000 rows of about 250 bytes each exceed what the loopback buffers take.
	values := map[string]float64{}
	for _, k := range []string{"episodes", "updates", "epsilon", "loss", "return_mean", "ctr", "steps_per_second", "purchase_rate"} {
		values[k] = 0.123456789
	}
	rows := make([]Point, maxHistory)
	for i := range rows {
		rows[i] = Point{Source: "train", Step: int64(i), Values: values}
	}
	s.Metrics().Publish(rows...)
	waitFor(t, "the stalled viewer to be disconnected", func() bool { return s.Metrics().Subscribers() == 0 })
}

// TestCloseEndsStreams checks that Close ends the metrics streams, so that a server
// shutdown does not wait for open tabs.
func TestCloseEndsStreams(t *testing.T) {
	s, ts := newTestServer(t, Options{RunDir: t.TempDir()})
	res, err := http.Get(ts.URL + "/api/train/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	waitFor(t, "a subscriber", func() bool { return s.Metrics().Subscribers() == 1 })
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, res.Body)
		done <- err
	}()
	s.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end within 5 s of Close")
	}
}

func TestCompareFromFileAndServer(t *testing.T) {
	run := t.TempDir()
	cat := testCatalog(t, 40)
	writeCheckpoint(t, run, "latest", cat)
	file := []rl.Result{{Recommender: "random", Persona: "cheap_blue", Episodes: 10, RewardPerStep: 0.5, RewardPerStepCI95: 0.1}}
	data, _ := json.Marshal(file)
	os.WriteFile(filepath.Join(run, CompareFile), data, 0o644)
	s, ts := newTestServer(t, Options{RunDir: run, Catalog: cat})

	var got CompareResults
	call(t, "GET", ts.URL+"/api/compare", "", &got)
	if len(got.File) != 1 || got.File[0].RewardPerStep != 0.5 || len(got.Server) != 0 {
		t.Fatalf("GET /api/compare = %+v; want the file's one result", got)
	}

	var results []rl.Result
	if code, msg := call(t, "POST", ts.URL+"/api/compare", `{"persona":"value_seeker","episodes":8,"seed":2}`, &results); code != 200 {
		t.Fatalf("POST /api/compare: %d %s", code, msg)
	}
	var names []string
	for _, r := range results {
		names = append(names, r.Recommender)
	}
	if got := strings.Join(names, ","); got != "random,popularity,filtered,linucb,oracle,dqn:latest" {
		t.Errorf("recommenders = %s; want the baselines, the oracle and dqn:latest", got)
	}
	pop, err := rl.Evaluate(rl.NewPopularity(cat, 3), cat, simenv.Config{Persona: "value_seeker"}.WithDefaults(), rl.EvalOptions{Episodes: 8, Seed: 2, Sessions: 32})
	if err != nil {
		t.Fatal(err)
	}
	if results[1].RewardPerStep != pop.RewardPerStep {
		t.Errorf("popularity reward per step = %v; want compare's %v", results[1].RewardPerStep, pop.RewardPerStep)
	}
	call(t, "GET", ts.URL+"/api/compare", "", &got)
	if len(got.Server) != len(results) {
		t.Errorf("GET after POST: %d server results; want %d", len(got.Server), len(results))
	}

	// A second comparison while one runs is turned away.
	s.comparing.Lock()
	code, msg := call(t, "POST", ts.URL+"/api/compare", `{"persona":"value_seeker","episodes":8}`, nil)
	s.comparing.Unlock()
	if code != http.StatusTooManyRequests {
		t.Errorf("concurrent comparison: status %d (%s); want 429", code, msg)
	}
}

// TestCompareUsesTrainingShop checks that a comparison of a run's checkpoint puts every
// recommender in the shop the run trained in, here one with budgets and the revenue reward.
func TestCompareUsesTrainingShop(t *testing.T) {
	run := t.TempDir()
	cat := testCatalog(t, 40)
	shop := simenv.Config{Persona: simenv.CheapBlue, Reward: simenv.RewardRevenue, Budget: 0.5}.WithDefaults()
	cfg := rl.DefaultDQNConfig()
	cfg.Hidden = []int{8}
	d, err := rl.NewDQN(cfg, cat, shop, 7)
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Checkpoint(rl.RunInfo{Shop: shop, Seed: 7, Sessions: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.Save(filepath.Join(run, "checkpoints", "latest.msgpack"), f); err != nil {
		t.Fatal(err)
	}
	_, ts := newTestServer(t, Options{RunDir: run, Catalog: cat})

	var results []rl.Result
	if code, msg := call(t, "POST", ts.URL+"/api/compare", `{"persona":"value_seeker","episodes":8,"seed":2}`, &results); code != 200 {
		t.Fatalf("POST /api/compare: %d %s", code, msg)
	}
	evalShop := shop
	evalShop.Persona = simenv.ValueSeeker
	pop, err := rl.Evaluate(rl.NewPopularity(cat, 3), cat, evalShop, rl.EvalOptions{Episodes: 8, Seed: 2, Sessions: 32})
	if err != nil {
		t.Fatal(err)
	}
	if results[1].Recommender != "popularity" || results[1].RewardPerStep != pop.RewardPerStep {
		t.Errorf("%s reward per step = %v; want %v, popularity's in the training shop", results[1].Recommender, results[1].RewardPerStep, pop.RewardPerStep)
	}
}

func TestBadCompareFileIsReported(t *testing.T) {
	run := t.TempDir()
	os.WriteFile(filepath.Join(run, CompareFile), []byte("recommender,ctr\nrandom,0.1\n"), 0o644)
	_, ts := newTestServer(t, Options{RunDir: run})
	var got CompareResults
	call(t, "GET", ts.URL+"/api/compare", "", &got)
	if !strings.Contains(got.Note, "not the JSON array that compare --json prints") {
		t.Errorf("note = %q; want it to name the expected format", got.Note)
	}
}

func TestNewRejectsBadRunFolder(t *testing.T) {
	cat := testCatalog(t, 40)
	file := filepath.Join(t.TempDir(), "metrics.csv")
	os.WriteFile(file, nil, 0o644)
	for _, dir := range []string{filepath.Join(t.TempDir(), "missing"), file} {
		if _, err := New(Options{RunDir: dir, Catalog: cat}); err == nil {
			t.Errorf("New with run folder %s: no error", dir)
		}
	}
	if _, err := New(Options{}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("catalog")) {
		t.Errorf("New without a catalog: %v; want an error naming the catalog", err)
	}
}

// TestShopTakesChoiceModelAndReward checks that a shop's request sets the reward scheme:
// under "click" every click earns 1 and a purchase nothing more.
func TestShopTakesChoiceModelAndReward(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	var created ShopCreated
	body := `{"persona":"cheap_blue","recommender":"filtered","seed":4,"choice_model":"cascade","reward":"click"}`
	if code, msg := call(t, "POST", ts.URL+"/api/shops", body, &created); code != 200 {
		t.Fatalf("open shop: status %d: %s", code, msg)
	}
	clicked := 0
	for i, v := range playEpisodes(t, ts.URL, created.ID, 3) {
		want := 0.0
		for _, c := range v.Cards {
			if c.Reaction != "ignored" {
				want = 1
				clicked++
			}
		}
		if v.Reward != want {
			t.Errorf("step %d: reward %v; want %v under the click reward", i, v.Reward, want)
		}
	}
	if clicked == 0 {
		t.Error("no click in 3 sessions; want some to check the reward")
	}
}

// TestReinforceCheckpointShopAndCompare plays a REINFORCE checkpoint in a live shop and a
// comparison, and checks that a SlateQ checkpoint gets an error that names its scenario.
func TestReinforceCheckpointShopAndCompare(t *testing.T) {
	run := t.TempDir()
	cat := testCatalog(t, 40)
	shop := simenv.Config{Persona: simenv.CheapBlue}.WithDefaults()
	cfg := rl.DefaultReinforceConfig()
	cfg.Hidden = []int{8}
	agent, err := rl.NewReinforce(cfg, cat, shop, 7)
	if err != nil {
		t.Fatal(err)
	}
	f, err := agent.Checkpoint(rl.RunInfo{Shop: shop, Seed: 7, Sessions: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.Save(filepath.Join(run, "checkpoints", "latest.msgpack"), f); err != nil {
		t.Fatal(err)
	}
	_, ts := newTestServer(t, Options{RunDir: run, Catalog: cat})

	var created ShopCreated
	body := `{"persona":"cheap_blue","recommender":"checkpoint:latest","seed":1}`
	if code, msg := call(t, "POST", ts.URL+"/api/shops", body, &created); code != 200 {
		t.Fatalf("open a shop of the REINFORCE checkpoint: %d %s", code, msg)
	}
	if created.Recommender != "reinforce:latest" {
		t.Errorf("recommender %q; want reinforce:latest", created.Recommender)
	}
	var views []StepView
	if code, msg := call(t, "POST", ts.URL+"/api/shops/"+created.ID+"/step?n=5", "", &views); code != 200 {
		t.Fatalf("step: %d %s", code, msg)
	}
	for i, v := range views {
		if v.Explain.Kind != "policy logit" || len(v.Explain.Items) != explainedItems {
			t.Fatalf("step %d: explanation %q with %d items; want policy logits of %d items", i, v.Explain.Kind, len(v.Explain.Items), explainedItems)
		}
		for k, it := range v.Explain.Items {
			if it.InSlate != (k < 3) {
				t.Errorf("step %d: item %d of the explanation (%s) in slate = %v; want the top 3 in the slate", i, k, it.Name, it.InSlate)
			}
		}
	}

	var results []rl.Result
	if code, msg := call(t, "POST", ts.URL+"/api/compare", `{"persona":"cheap_blue","episodes":4,"seed":2}`, &results); code != 200 {
		t.Fatalf("POST /api/compare: %d %s", code, msg)
	}
	if last := results[len(results)-1].Recommender; last != "reinforce:latest" {
		t.Errorf("last recommender of the comparison %q; want reinforce:latest", last)
	}

	scenario := recsim.DefaultConfig()
	slateQ, err := rl.NewSlateQ(rl.DefaultSlateQConfig(), scenario, 1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := slateQ.Checkpoint(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.Save(filepath.Join(run, "checkpoints", "step-000000001.msgpack"), g); err != nil {
		t.Fatal(err)
	}
	body = `{"persona":"cheap_blue","recommender":"checkpoint:step-000000001"}`
	if code, msg := call(t, "POST", ts.URL+"/api/shops", body, nil); code != http.StatusUnprocessableEntity || !strings.Contains(msg, "SlateQ agent of RecSim's scenario") {
		t.Errorf("shop of a SlateQ checkpoint: status %d, %q; want 422 naming RecSim's scenario", code, msg)
	}
}
