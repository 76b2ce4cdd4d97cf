# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/noprop
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
DB      ?= results.db

.PHONY: build run test bench vet clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) .

# The main job: back-propagation beside NoProp-DT (quick preset: mlp encoder,
# one epoch per task) on split MNIST (5 tasks of 2 classes), class- and
# task-incremental, one seed; results go to $(DB), and the accuracy-matrix
# heatmaps and per-task curves of these configurations to $(FIGURES).
STUDY   := --method backprop,noprop-dt:quick --dataset mnist --stream split --scenario class,task
FIGURES ?= $(dir $(DB))figures
run: build
	./$(BIN) run --db $(DB) $(STUDY) --tasks 5 --seeds 1
	@mkdir -p $(FIGURES)
	@./$(BIN) plot matrix --db $(DB) $(STUDY) -o $(FIGURES)/matrix.png
	@./$(BIN) plot curves --db $(DB) $(STUDY) -o $(FIGURES)/curves.png
	@echo "figures in $(FIGURES)/ (noprop report -o DIR writes a page with all of them)"

# The whole test suite (go vet, then every package's tests), then the two
# fuzz tests for ten seconds each beyond their committed corpora.
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(GO) test -run '^$$' -fuzz '^FuzzSweepFile$$' -fuzztime 10s ./harness
	$(GO) test -run '^$$' -fuzz '^FuzzSetValues$$' -fuzztime 10s ./internal/cli

# Speed: GEMM, layers, training steps (see README).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2x ./methods/...

clean:
	rm -rf bin
