# Vigil: `make run` analyses the bundled sample, `make test` is what every
# contributor (and CI) must pass.

GO       ?= go
PYTHON   ?= python3
SHARED   ?= ../shared
BIN      := bin
VIGIL    := $(BIN)/vigil
OUT      ?= out
FUZZTIME ?= 30s
# make bench PCAP=some.pcap RULES=some.rules
PCAP     ?=
RULES    ?= testdata/sample.rules

.PHONY: all build build-dpdk run test test-dpdk vet fmt-check unit verify verify-update bench bench-go bench-mpm fuzz sample clean

all: build

build:
	$(GO) build -o $(VIGIL) ./cmd/vigil
	$(GO) build -o $(BIN)/vigil-gen ./tools/vigil-gen

# vigil with the DPDK backend (needs libdpdk-dev: pkg-config libdpdk).
build-dpdk:
	$(GO) build -tags dpdk -o $(VIGIL) ./cmd/vigil

run: build
	@mkdir -p $(OUT) && rm -f $(OUT)/eve.json $(OUT)/fast.log
	$(VIGIL) -S testdata/sample.rules -r testdata/sample.pcap -l $(OUT)
	@echo "--- $(OUT)/fast.log"
	@cat $(OUT)/fast.log

test: vet fmt-check unit test-dpdk

vet:
	$(GO) vet ./...

fmt-check:
	@files=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

unit:
	$(GO) test -race -count=1 ./...

# The DPDK backend builds only with the dpdk tag and the system's DPDK
# (Debian: libdpdk-dev); CI installs it, a contributor without it is told.
test-dpdk:
	@if pkg-config --exists libdpdk 2>/dev/null; then \
	  $(GO) vet -tags dpdk ./dataplane/capture/dpdk/ ./cmd/vigil/ && $(GO) test -tags dpdk -count=1 ./dataplane/capture/dpdk/ && \
	  $(GO) test -tags dpdk -count=1 -run TestLiveDPDK ./cmd/vigil/; \
	else echo "test-dpdk: libdpdk not found (apt install libdpdk-dev): DPDK backend not tested"; fi

# Conformance: score bin/vigil on the suricata-verify subset in ../shared and
# fail if a test that passed in testdata/conformance-baseline.txt fails now.
verify: build
	$(PYTHON) tools/conformance/ratchet.py --shared $(SHARED) --engine $(VIGIL) --baseline testdata/conformance-baseline.txt

# Record the current score as the new baseline (only ever upwards).
verify-update: build
	$(PYTHON) tools/conformance/ratchet.py --shared $(SHARED) --engine $(VIGIL) --baseline testdata/conformance-baseline.txt --update

# Micro-benchmarks of the hot packages, then the whole engine on a pcap.
bench: bench-go build
	bench/run.sh "$(PCAP)" "$(RULES)"

bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem ./dataplane/... ./detect/... ./output/...

# Multi-pattern matcher comparison on the ET Open contents over the shared
# pcaps' payloads: ours, cloudflare, petar, plus Hyperscan (own binding and
# gohs) when libhyperscan-dev is installed. Results in bench/mpm.md.
# The MPM_COUNT rounds are separate runs (not -count) so that the engines
# are interleaved in time and share the machine's load changes fairly.
MPM_COUNT ?= 6
bench-mpm:
	@mkdir -p $(OUT); : > $(OUT)/bench-mpm.txt; tags=; \
	if pkg-config --exists libhs 2>/dev/null; then tags="-tags hyperscan"; else echo "libhs not found: Hyperscan left out"; fi; \
	for i in $$(seq $(MPM_COUNT)); do \
	  echo "bench-mpm: round $$i/$(MPM_COUNT), $$(uptime | sed 's/.*load/load/')"; \
	  $(GO) test $$tags -run='^$$' -bench=Compare -benchmem -count=1 ./detect/mpm >> $(OUT)/bench-mpm.txt || exit 1; \
	done; \
	cat $(OUT)/bench-mpm.txt; \
	bs=$$(command -v benchstat || echo "$$($(GO) env GOPATH)/bin/benchstat"); \
	if [ -x "$$bs" ]; then "$$bs" $(OUT)/bench-mpm.txt; \
	else echo "for a summary: go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"; fi

# Run every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Regenerate the bundled sample capture (deterministic).
sample:
	$(GO) run ./tools/samplegen -o testdata/sample.pcap

clean:
	rm -rf $(BIN) $(OUT)
