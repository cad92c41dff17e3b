# SimShop. `make run` trains one DQN per persona on the generated catalog and compares each
# with the baselines; `make test` runs the test suite.

GO        ?= go
BIN       := bin/simshop-train
RUNS      ?= runs
STEPS     ?= 60000
SEED      ?= 1
EPISODES  ?= 1000
PERSONAS  := cheap_blue exposure_buyer value_seeker
FUZZTIME  ?= 60s

.PHONY: build run test bench bench-compare fuzz lint screenshots clean

build:
	$(GO) build -o $(BIN) ./cmd/simshop-train

# Each run replaces the persona's run folder, because train rejects a folder that holds step
# checkpoints of an earlier run.
run: build
	@set -e; for p in $(PERSONAS); do \
		echo "== training dqn on $$p"; \
		rm -rf $(RUNS)/$$p; \
		$(BIN) train --persona $$p --steps $(STEPS) --seed $(SEED) --eval-episodes $(EPISODES) --out $(RUNS)/$$p; \
	done
	@set -e; for p in $(PERSONAS); do \
		echo "== $$p: dqn against the baselines ($(EPISODES) evaluation sessions each)"; \
		$(BIN) compare --model $(RUNS)/$$p/checkpoints/latest.msgpack --persona $$p --episodes $(EPISODES) --seed $(SEED); \
	done

test:
	$(GO) test ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Time the DQN update against PyTorch on the same shapes, one thread each; see BENCHMARKS.md.
# Needs python3-torch. TAGS=openblas measures the OpenBLAS build; the last line printed is
# "dqn-update vs torch: R.RRx".
TAGS        ?=
TORCH_BENCH ?= ../shared/bench/torch_dqn_update.py
bench-compare:
	TAGS="$(TAGS)" TORCH_BENCH="$(TORCH_BENCH)" python3 benchmarks/compare.py

# Fuzz checkpoints.Decode for FUZZTIME. The seed corpus is checkpoints/testdata/fuzz/FuzzDecode,
# and go test writes any failing input there. Minimizing a new input is capped at 5 s, so that
# most of FUZZTIME goes to fuzzing.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./checkpoints

# Refresh the dashboard screenshots in docs/ by running the browser tests, which need
# Debian's chromium. The one of the real catalog needs REAL_CATALOG, its CSV file.
REAL_CATALOG ?=
screenshots:
	SIMSHOP_SCREENSHOTS=$(CURDIR)/docs SIMSHOP_REAL_CATALOG=$(REAL_CATALOG) \
		$(GO) test -count 1 -run '^TestDashboard(RealCatalog)?InBrowser$$' ./cmd/simshop-train

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin $(RUNS)
