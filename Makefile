# netanomaly_exporter

GO        ?= go
BIN       ?= netanomaly_exporter
PKG       := github.com/prometheus/common/version
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)
REVISION  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) -X $(PKG).Branch=$(BRANCH) \
             -X $(PKG).BuildUser=$(shell whoami)@$(shell hostname) -X $(PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

.PHONY: all build generate run test test-short bench bench-rss bench-live bench-peers fuzz lint checkmetrics clean

all: lint build test

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/netanomaly_exporter

# Regenerates everything generated and committed: the rules, alerts,
# Alertmanager templates, dashboards and Kubernetes rules (mixin/), the
# e2e golden /metrics file and README's generated tables.
generate:
	$(GO) test -count=1 -run '^TestGeneratedFiles$$' ./mixin -u
	$(GO) test -count=1 -run '^(TestEndToEnd|TestREADMEUpToDate)$$' ./cmd/netanomaly_exporter -u

# Runs the demo on :9957: a synthesized network under attack, at real speed.
run:
	$(GO) run ./cmd/netanomaly_exporter

# Every test, as CI runs it (root-only tests skip with a message otherwise).
test:
	$(GO) test -count=1 ./...

test-short:
	$(GO) test -short ./...

# Throughput and allocations of the per-packet path, on one core.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./collector/...

# Peak RSS of a replay of 5 million packets from random sources.
bench-rss: build
	./scripts/bench-rss.sh

# Live capture into a veth from another namespace, both methods, detector on
# and off: drops and CPU per packet at rising rates (root, about 7 minutes).
bench-live:
	./scripts/bench-live.sh

# The exporter's replay against argus, tshark and tcpdump on one capture of
# 2.1 million packets: medians of 5 runs (4.5 to 10 minutes; README).
bench-peers:
	./scripts/bench-peers.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./collector/decode
	$(GO) test -run '^$$' -fuzz FuzzReader -fuzztime 60s ./collector/capture/pcapfile

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.6.2 run ./...

# The end-to-end alerting test: the exporter replays 90s of traffic with a
# SYN flood and a port scan to a real Prometheus and Alertmanager, which
# notify a fake Slack and SMTP server on loopback (needs prometheus and
# prometheus-alertmanager; about 2 minutes). It also runs in "make test".
.PHONY: test-e2e checkrules
test-e2e:
	$(GO) test -count=1 -v -run '^TestEndToEndAlerting$$' ./test/stack

# The Prometheus configurations (one sensor site, the global one of
# prometheus/federation), their rule files and their unit tests.
checkrules:
	cd prometheus && promtool check config prometheus.yml
	cd prometheus/federation && promtool check config prometheus.yml
	promtool check rules prometheus/rules/*.yml
	cd prometheus && promtool test rules tests/*.yml

# Entropies are in bits, as node_exporter's node_entropy_available_bits:
# promtool's lint for bytes as the base unit, meant for sizes of data, is the
# one problem let through.
checkmetrics: build
	./$(BIN) replay --capture.pcap=cmd/netanomaly_exporter/testdata/ftp_bruteforce.pcap | promtool check metrics 2>&1 | \
		{ ! grep -v '^netanomaly_window_[a-z_]*entropy[a-z_]*_bits use base unit "bytes" instead of "bits"$$'; }

clean:
	rm -f $(BIN)
