# SimShop. `make run` trains one DQN per persona on the generated catalog and compares each
# with the baselines; `make test` runs the test suite.

GO        ?= go
BIN       := bin/simshop-train
RUNS      ?= runs
STEPS     ?= 60000
SEED      ?= 1
EPISODES  ?= 1000
PERSONAS  := cheap_blue exposure_buyer value_seeker

.PHONY: build run test bench lint clean

build:
	$(GO) build -o $(BIN) ./cmd/simshop-train

run: build
	@set -e; for p in $(PERSONAS); do \
		echo "== training dqn on $$p"; \
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

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin $(RUNS)
