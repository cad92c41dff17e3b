package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// screenshotDirEnv names the folder that TestDashboardInBrowser saves its screenshots to,
// such as docs; without it they go to a temporary folder.
const screenshotDirEnv = "SIMSHOP_SCREENSHOTS"

// newBrowser starts headless Chromium with a fresh profile and returns its tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("the browser test needs Debian's chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 1180),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// do runs browser actions and fails the test on error.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitUntil polls a JavaScript predicate until it is true, for at most timeout.
func waitUntil(t *testing.T, ctx context.Context, what, predicate string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({error: document.getElementById("shop-error").textContent, status: document.getElementById("shop-status").textContent, steps: document.getElementById("fig-steps").textContent, play: document.getElementById("shop-play").textContent, train: document.getElementById("train-status").textContent, compare: document.getElementById("cmp-status").textContent})`))
		t.Fatalf("waiting for %s (%s): %v\npage: %s", what, predicate, err, state)
	}
}

// saveScreenshot captures the viewport as a PNG into the screenshot folder.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot saved to %s (%d bytes)", path, len(png))
}

// dashboardURL matches the address that train --dashboard logs.
var dashboardURL = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/)`)

// TestDashboardInBrowser runs a real training with --dashboard and drives its page in
// headless Chromium. A live shop must show slates with reactions and a CTR that updates.
// The training curves must grow while the run goes on, and a comparison must draw bars.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test takes about 20 s")
	}
	ctx := newBrowser(t)
	out := filepath.Join(t.TempDir(), "run")
	p := startBinary(t, "train", "--persona", "cheap_blue", "--steps", "400000", "--envs", "8",
		"--log-every", "400", "--save-every", "2000", "--eval-every", "4000", "--eval-every-episodes", "20",
		"--hidden", "32", "--out", out, "--dashboard", "127.0.0.1:0")
	p.waitFor(t, "dashboard listening")
	m := dashboardURL.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("train did not log the dashboard's address:\n%s", p.stderr.String())
	}
	url := m[1]

	// Live shop: LinUCB recommends to cheap_blue shoppers. Play until 20 slates are shown and
	// a session has ended.
	do(t, ctx, "open the live shop", chromedp.Navigate(url+"#shop"))
	waitUntil(t, ctx, "the recommender menu", `document.querySelector('#shop-rec option[value="linucb"]') !== null`, 10*time.Second)
	eval[bool](t, ctx, `document.getElementById("shop-persona").value = "cheap_blue"; document.getElementById("shop-rec").value = "linucb"; true`)
	do(t, ctx, "start the shop", chromedp.Click(chromedp.ID("shop-start")))
	waitUntil(t, ctx, "the first slate", `document.querySelectorAll("#cards .card").length === 3`, 10*time.Second)
	firstSlate := eval[string](t, ctx, `[...document.querySelectorAll("#cards .card")].map(c => c.dataset.item).join(",")`)
	firstCTR := eval[string](t, ctx, `document.getElementById("fig-ctr").textContent`)
	if firstCTR == "–" {
		t.Errorf("CTR after the first slate = %q; want a percentage", firstCTR)
	}

	eval[bool](t, ctx, `const speed = document.getElementById("shop-speed"); speed.value = "20"; speed.dispatchEvent(new Event("input")); true`)
	do(t, ctx, "press play", chromedp.Click(chromedp.ID("shop-play")))
	waitUntil(t, ctx, "20 slates", `Number(document.getElementById("fig-steps").textContent) >= 20`, 20*time.Second)
	waitUntil(t, ctx, "the first finished session", `Number(document.getElementById("fig-sessions").textContent) >= 1`, 20*time.Second)
	do(t, ctx, "press pause", chromedp.Click(chromedp.ID("shop-play")))

	reactions := eval[[]string](t, ctx, `[...document.querySelectorAll("#cards .card")].map(c => c.dataset.reaction)`)
	if len(reactions) != 3 {
		t.Fatalf("cards after playing = %d; want 3", len(reactions))
	}
	for _, r := range reactions {
		if r != "ignored" && r != "clicked" && r != "bought" {
			t.Errorf("card reaction %q; want ignored, clicked or bought", r)
		}
	}
	if slate := eval[string](t, ctx, `[...document.querySelectorAll("#cards .card")].map(c => c.dataset.item).join(",")`); slate == firstSlate {
		t.Errorf("slate after 20 steps %s is still the first one; want the cards to update", slate)
	}
	ctr := eval[string](t, ctx, `document.getElementById("fig-ctr").textContent`)
	if ctr == "–" || !strings.HasSuffix(ctr, "%") {
		t.Errorf("CTR after playing = %q; want a percentage", ctr)
	}
	if ctr == "0.0 %" {
		t.Errorf("CTR after 20 slates of LinUCB to cheap_blue is 0; want clicks to show")
	}
	if n := eval[int](t, ctx, `Number(document.querySelector("#shop-chart").dataset.points)`); n < 40 {
		t.Errorf("live chart holds %d points; want 2 series of at least 20 slates", n)
	}
	if n := eval[int](t, ctx, `Number(document.querySelector("#shop-returns").dataset.points)`); n < 1 {
		t.Errorf("session returns chart holds %d points; want one per finished session", n)
	}
	if kind := eval[string](t, ctx, `document.querySelector("#explain strong")?.textContent ?? ""`); kind != "upper confidence bound" {
		t.Errorf("explanation kind = %q; want LinUCB's upper confidence bound", kind)
	}
	saveScreenshot(t, ctx, "dashboard.png")

	// Training: the CTR curve gains points while the run trains.
	do(t, ctx, "open the training view", chromedp.Click(chromedp.ID("tab-train")))
	points := `Number(document.querySelector("#train-chart-ctr path.series")?.dataset.points ?? 0)`
	waitUntil(t, ctx, "the first training rows", points+` >= 2`, 20*time.Second)
	before := eval[int](t, ctx, points)
	waitUntil(t, ctx, "more training rows", points+` > `+strconv.Itoa(before), 20*time.Second)
	waitUntil(t, ctx, "the first evaluation", `Number(document.getElementById("eval-count").textContent) >= 1`, 30*time.Second)
	saveScreenshot(t, ctx, "dashboard-training.png")

	// Compare: a small comparison on cheap_blue draws a bar per recommender, including the
	// run's checkpoints.
	do(t, ctx, "open the compare view", chromedp.Click(chromedp.ID("tab-compare")))
	waitUntil(t, ctx, "the persona menu", `document.querySelector('#cmp-persona option[value="cheap_blue"]') !== null`, 10*time.Second)
	eval[bool](t, ctx, `document.getElementById("cmp-persona").value = "cheap_blue"; document.getElementById("cmp-episodes").value = "20"; true`)
	do(t, ctx, "run a comparison", chromedp.Click(chromedp.ID("cmp-run")))
	waitUntil(t, ctx, "the comparison bars", `document.querySelectorAll("#cmp-chart rect.bar").length >= 5`, 30*time.Second)
	bars := eval[[]string](t, ctx, `[...document.querySelectorAll("#cmp-chart rect.bar title")].map(e => e.textContent)`)
	if !strings.Contains(strings.Join(bars, "\n"), "dqn:latest") {
		t.Errorf("comparison bars %q; want one for the run's latest checkpoint", bars)
	}
	saveScreenshot(t, ctx, "dashboard-compare.png")
}

// realCatalog returns the path of the real 1,338-item catalog: $SIMSHOP_REAL_CATALOG, or
// the shared data folder beside the repository, as CI lays it out. It skips the test when
// neither exists.
func realCatalog(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SIMSHOP_REAL_CATALOG")
	if path == "" {
		path = filepath.Join("..", "..", "..", "shared", "data", "catalogs", "wish_summer_clothes.csv")
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("the real catalog is not on this machine (%v); set SIMSHOP_REAL_CATALOG to its path", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestDashboardRealCatalogInBrowser serves the dashboard on the real catalog and drives a
// live shop of the oracle for a mix of personas, then a comparison, in headless Chromium.
func TestDashboardRealCatalogInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test takes about 10 s")
	}
	catalog := realCatalog(t)
	ctx := newBrowser(t)
	p := startBinary(t, "dashboard", "--catalog", catalog, "--addr", "127.0.0.1:0")
	p.waitFor(t, "dashboard listening")
	url := dashboardURL.FindStringSubmatch(p.stderr.String())[1]

	do(t, ctx, "open the live shop", chromedp.Navigate(url))
	waitUntil(t, ctx, "the recommender menu", `document.querySelector('#shop-rec option[value="oracle"]') !== null`, 10*time.Second)
	if info := eval[string](t, ctx, `document.getElementById("info").textContent`); !strings.Contains(info, "1338 items") {
		t.Errorf("catalog line = %q; want the real catalog's 1338 items", info)
	}
	eval[bool](t, ctx, `document.getElementById("shop-persona").value = "mix";
		document.getElementById("shop-persona").dispatchEvent(new Event("change"));
		document.getElementById("shop-mix").value = "cheap_blue:0.5,budget_buyer:0.5";
		document.getElementById("shop-rec").value = "oracle"; true`)
	do(t, ctx, "start the shop", chromedp.Click(chromedp.ID("shop-start")))
	waitUntil(t, ctx, "the first slate", `document.querySelectorAll("#cards .card").length === 3`, 10*time.Second)
	for range 9 {
		before := eval[string](t, ctx, `document.getElementById("fig-steps").textContent`)
		do(t, ctx, "step", chromedp.Click(chromedp.ID("shop-step")))
		waitUntil(t, ctx, "the next slate", `document.getElementById("fig-steps").textContent !== "`+before+`"`, 10*time.Second)
	}
	if steps := eval[string](t, ctx, `document.getElementById("fig-steps").textContent`); steps != "10" {
		t.Errorf("slates after Start and 9 steps = %s; want 10", steps)
	}
	names := eval[[]string](t, ctx, `[...document.querySelectorAll("#cards .card .name")].map(e => e.textContent)`)
	for _, n := range names {
		if len(n) < 10 {
			t.Errorf("card name %q; want the real catalog's product title", n)
		}
	}
	if kind := eval[string](t, ctx, `document.querySelector("#explain strong")?.textContent ?? ""`); kind != "expected reward alone" {
		t.Errorf("explanation kind = %q; want the oracle's expected reward", kind)
	}
	saveScreenshot(t, ctx, "dashboard-real-catalog.png")

	do(t, ctx, "open the compare view", chromedp.Click(chromedp.ID("tab-compare")))
	waitUntil(t, ctx, "the persona menu", `document.querySelector('#cmp-persona option[value="budget_buyer"]') !== null`, 10*time.Second)
	eval[bool](t, ctx, `document.getElementById("cmp-persona").value = "budget_buyer"; document.getElementById("cmp-episodes").value = "10"; true`)
	do(t, ctx, "run a comparison", chromedp.Click(chromedp.ID("cmp-run")))
	waitUntil(t, ctx, "the comparison bars", `document.querySelectorAll("#cmp-chart rect.bar").length === 5`, 30*time.Second)
}
