package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simshop/simshop/dashboard"
	"github.com/simshop/simshop/rl"
)

// BenchmarkTrainWithViewers reports training shopper-steps per second of wall time and per
// CPU-second of the whole process while 0 or 20 viewers follow the run's learning curves
// over server-sent events, as they do with train --dashboard. Training writes a metrics row every 64 shopper-steps, about 80 times as
// often as the default --log-every, and the dashboard reads the file every 50 ms, so that
// the viewers receive a steady stream. The viewers run in the
// training process, as the dashboard of train --dashboard does.
func BenchmarkTrainWithViewers(b *testing.B) {
	for _, viewers := range []int{0, 20} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			benchmarkTrainWithViewers(b, viewers)
		})
	}
}

func benchmarkTrainWithViewers(b *testing.B, viewers int) {
	cat := catalog(b, 200)
	d, env := trainedAgent(b, cat, 16)
	run := b.TempDir()
	metrics, err := os.Create(filepath.Join(run, "metrics.csv"))
	if err != nil {
		b.Fatal(err)
	}
	defer metrics.Close()
	fmt.Fprintln(metrics, "env_steps,episodes,updates,epsilon,loss,return_mean,ctr,steps_per_second,purchase_rate")
	progress := func(p rl.TrainProgress) {
		fmt.Fprintf(metrics, "%d,%d,%d,%g,%g,%g,%g,%g,%g\n", p.EnvSteps, p.Episodes, p.Updates, p.Epsilon, p.Loss,
			p.ReturnMean, p.CTR, p.StepsPerSecond, p.PurchaseRate)
	}

	srv, err := dashboard.New(dashboard.Options{RunDir: run, Catalog: cat, PollEvery: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	// Each viewer reads the stream until the benchmark ends and counts the events.
	ctx, cancel := context.WithCancel(context.Background())
	var events atomic.Int64
	var wg sync.WaitGroup
	for range viewers {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/train/stream", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer res.Body.Close()
			sc := bufio.NewScanner(res.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					events.Add(1)
				}
			}
		}()
	}
	for srv.Metrics().Subscribers() < viewers {
		time.Sleep(time.Millisecond)
	}

	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUSeconds()
	start := d.EnvSteps
	if err := d.Train(context.Background(), env, rl.TrainOptions{Steps: start + int64(b.N)*16, Every: 64, Progress: progress}); err != nil {
		b.Fatal(err)
	}
	elapsed := b.Elapsed().Seconds()
	cpu := processCPUSeconds() - cpuStart
	b.StopTimer()
	time.Sleep(100 * time.Millisecond) // let the last rows reach the viewers
	cancel()
	wg.Wait()
	b.ReportMetric(float64(d.EnvSteps-start)/elapsed, "shopper-steps/s")
	if cpu > 0 {
		b.ReportMetric(float64(d.EnvSteps-start)/cpu, "shopper-steps/CPU-s")
	}
	if viewers > 0 {
		b.ReportMetric(float64(events.Load())/float64(viewers), "events/viewer")
	}
}
