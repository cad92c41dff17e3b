package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/dashboard"
	"github.com/simshop/simshop/simenv"
)

func dashboardCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "run", Usage: "run `DIR` to show: the --out folder of a finished or running training; optional"},
		&cli.StringFlag{Name: "addr", Usage: "`HOST:PORT` to listen on; the default accepts connections from this machine only", Value: dashboard.DefaultAddr},
		&cli.IntFlag{Name: "max-shops", Usage: "live shops open at once, across all viewers", Value: dashboard.DefaultMaxShops},
		&cli.IntFlag{Name: "max-compare-episodes", Usage: "evaluation sessions per recommender that one comparison in the dashboard may request", Value: dashboard.DefaultMaxCompareEpisodes},
	}
	flags = append(flags, catalogFlags()...)
	return &cli.Command{
		Name:  "dashboard",
		Usage: "serve the web dashboard: a live shop, a run's learning curves and comparisons",
		Description: "Without --catalog or --items, live shops use the catalog of the run's latest checkpoint,\n" +
			"or the generated catalog when the run has none yet. Open the printed address in a browser.",
		Flags:  flags,
		Action: runDashboard,
	}
}

// dashboardFlag adds --dashboard to train.
func dashboardFlag() cli.Flag {
	return &cli.StringFlag{Name: "dashboard", Usage: "serve the live dashboard of this run at `HOST:PORT`, such as " + dashboard.DefaultAddr + "; it stops when training ends"}
}

func runDashboard(c *cli.Context) error {
	if err := noArguments(c); err != nil {
		return err
	}
	if err := checkPositive(c, "max-shops", "max-compare-episodes"); err != nil {
		return err
	}

	// The run folder and the catalog of live shops.
	runDir := c.String("run")
	if runDir != "" {
		st, err := os.Stat(runDir)
		if err != nil {
			return fmt.Errorf("--run %s: %w; pass the --out folder of a training run", runDir, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("--run %s is a file; pass the --out folder of a training run", runDir)
		}
		latest := filepath.Join(runDir, "checkpoints", "latest.msgpack")
		if f, _, err := checkpoints.LoadSummary(latest); err == nil && f.Metadata.Agent == "slateq" {
			return fmt.Errorf("--run %s is a SlateQ run of --scenario %s, which the dashboard does not show; evaluate it with simshop-train eval --model %s",
				runDir, scenarioRecSim, latest)
		}
	}
	cat, err := dashboardCatalog(c, runDir)
	if err != nil {
		return err
	}

	// Serve until SIGINT or SIGTERM.
	srv, err := dashboard.New(dashboard.Options{
		RunDir: runDir, Catalog: cat,
		MaxShops: c.Int("max-shops"), MaxCompareEpisodes: c.Int("max-compare-episodes"),
	})
	if err != nil {
		return err
	}
	stop, err := serveDashboard(c.String("addr"), srv)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	stop()
	slog.Info("dashboard stopped")
	return nil
}

// dashboardCatalog returns the catalog of the dashboard's live shops: the flags' catalog
// when --catalog or --items is set, else the one in the run's latest checkpoint, else the
// generated one.
func dashboardCatalog(c *cli.Context, runDir string) (*simenv.Catalog, error) {
	cat, err := loadCatalog(c, true)
	if err != nil || cat != nil {
		return cat, err
	}
	if runDir != "" {
		latest := filepath.Join(runDir, "checkpoints", "latest.msgpack")
		f, err := checkpoints.Load(latest)
		switch {
		case err == nil:
			cat, err := simenv.NewCatalog(f.Metadata.Catalog.Items, f.Metadata.Catalog.Source)
			if err != nil {
				return nil, fmt.Errorf("catalog of %s: %w", latest, err)
			}
			return cat, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
		slog.Info("the run has no checkpoint yet; live shops use the generated catalog unless --catalog is given", "run", runDir)
	}
	return simenv.Generate(c.Int("items"), c.Uint64("catalog-seed"))
}

// startTrainDashboard serves the dashboard of a training run in folder out when --dashboard
// is set, and returns the function that stops it. The dashboard learns of training only
// from the run's files, so no viewer can block the training loop.
func startTrainDashboard(c *cli.Context, out string, cat *simenv.Catalog) (stop func(), err error) {
	addr := c.String("dashboard")
	if addr == "" {
		return func() {}, nil
	}
	srv, err := dashboard.New(dashboard.Options{RunDir: out, Catalog: cat})
	if err != nil {
		return nil, err
	}
	return serveDashboard(addr, srv)
}

// serveDashboard listens on addr and serves srv in the background. The returned function
// ends every stream and stops the server.
func serveDashboard(addr string, srv *dashboard.Server) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("dashboard: listen on %s: %w; pass another HOST:PORT, such as 127.0.0.1:8502", addr, err)
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			slog.Warn("the dashboard accepts connections from other machines; it has no authentication", "addr", addr)
		}
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("dashboard server stopped", "err", err)
		}
	}()
	slog.Info("dashboard listening", "url", "http://"+ln.Addr().String()+"/")
	return func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
		<-done
	}, nil
}
