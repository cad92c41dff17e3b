# SimShop. `make run` trains one DQN per persona on the generated catalog and compares each
# with the baselines; `make test` runs the test suite.

GO        ?= go
BIN       := bin/simshop-train
RUNS      ?= runs
STEPS     ?= 60000
SEED      ?= 1
EPISODES  ?= 1000
PERSONAS  := cheap_blue exposure_buyer value_seeker impulse_buyer
FUZZTIME  ?= 60s
# The real catalog, from the shared data beside the repository.
WISH      ?= $(firstword $(wildcard ../shared/data/catalogs/wish_summer_clothes.csv ../../shared/data/catalogs/wish_summer_clothes.csv))
BUDGET    ?= default
STUDIES   := recommenders-by-persona behaviour-over-training robustness
RESULTS_STEPS    ?= 60000
RESULTS_EPISODES ?= 1000
RESULTS_PERSONAS ?= cheap_blue value_seeker brand_lover exposure_buyer impulse_buyer
RESULTS_BEGIN    := <!-- BEGIN make results -->
RESULTS_END      := <!-- END make results -->

.PHONY: build run test bench bench-compare fuzz lint screenshots clean experiments results bars $(STUDIES)

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

# Each study runs on the generated catalog and on WISH, and writes
# docs/experiments/STUDY/report.md with its plots and data; its checkpoints go to runs/.
experiments: $(STUDIES)

# The behaviour study evaluates fewer sessions per checkpoint than the others, because it
# evaluates every persona at every checkpoint of every agent.
behaviour-over-training: STUDY_FLAGS ?= --episodes 100

$(STUDIES): build
	@test -n "$(WISH)" || { echo "WISH is not set: pass WISH=path/to/wish_summer_clothes.csv"; exit 1; }
	rm -rf $(RUNS)/experiments/$@
	$(BIN) experiment $@ --budget $(BUDGET) --seed $(SEED) --catalog $(WISH) $(STUDY_FLAGS) --out docs/experiments/$@ --work $(RUNS)/experiments/$@ --force

# Trains every agent of experiments.Agents on each of RESULTS_PERSONAS, on the generated
# catalog and on WISH, writes docs/results/report.md with its plots and data, and puts that
# report between the markers of docs/results.md, with its links made relative to docs/.
# Everything outside the markers is written by hand and kept.
results: build
	@test -n "$(WISH)" || { echo "WISH is not set: pass WISH=path/to/wish_summer_clothes.csv"; exit 1; }
	@grep -qxF '$(RESULTS_BEGIN)' docs/results.md && grep -qxF '$(RESULTS_END)' docs/results.md || \
		{ echo "docs/results.md lacks the lines $(RESULTS_BEGIN) and $(RESULTS_END)"; exit 1; }
	rm -rf $(RUNS)/experiments/results
	$(BIN) experiment results --train-steps $(RESULTS_STEPS) --episodes $(RESULTS_EPISODES) --seed $(SEED) \
		$(foreach p,$(RESULTS_PERSONAS),--persona $(p)) --catalog $(WISH) --out docs/results --work $(RUNS)/experiments/results --force
	awk -v report=docs/results/report.md -v begin='$(RESULTS_BEGIN)' -v end='$(RESULTS_END)' \
		'$$0 == begin { print; while ((getline line < report) > 0) { gsub(/\]\(/, "](results/", line); print line }; skip = 1; next } \
		$$0 == end { skip = 0 } !skip { print }' docs/results.md > docs/results.md.tmp
	mv docs/results.md.tmp docs/results.md

# Trains the agent of every bar of docs/bars.md with the default hyperparameters and writes
# docs/bars/report.md: each bar's figures, its ratio, whether it is met, and each training
# run's wall and CPU time. The report and the models replace the earlier ones only once the
# study is complete.
bars: build
	@test -n "$(WISH)" || { echo "WISH is not set: pass WISH=path/to/wish_summer_clothes.csv"; exit 1; }
	$(BIN) experiment bars --seed $(SEED) --catalog $(WISH) --out docs/bars --work $(RUNS)/experiments/bars --force

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

# Fuzz checkpoints.Decode, then the slate log decoder rl.DecodeSlateLog, for FUZZTIME each.
# The seed corpora are checkpoints/testdata/fuzz/FuzzDecode and a log that FuzzDecodeSlateLog
# records, and go test writes any failing input under the package's testdata/fuzz. Minimizing
# a new input is capped at 5 s, so that most of FUZZTIME goes to fuzzing.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./checkpoints
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSlateLog$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./rl

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
