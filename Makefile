# baton's entry points. The README names two: `make demo` and `make test`.
GO ?= go
BIN := bin/baton

.PHONY: build image test unit demo bench bench-deploy bench-overload fuzz vet

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/baton

# The whole suite: vet, then unit and Docker integration tests with the race
# detector, which also builds the baton binary the integration tests run
# (BATON_RACE=1). The integration tests need a Docker engine (CI fails without one).
# image: baton FROM scratch (configs/Dockerfile), tagged baton:latest, as the
# Compose example (configs/compose.yaml) expects.
image:
	mkdir -p bin/image
	CGO_ENABLED=0 go build -o bin/image/baton ./cmd/baton
	cp configs/Dockerfile bin/image/Dockerfile
	docker build -t $${BATON_IMAGE:-baton:latest} bin/image

test: vet
	BATON_RACE=1 $(GO) test -race -count=1 -timeout 20m ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /integration)

vet:
	$(GO) vet ./...

# Build baton and the test app, deploy v1 -> v2 under load, print the timeline
# and a load report, clean up.
demo:
	$(GO) run ./integration/demo

# Load benchmark: baton vs the backend directly, nginx, haproxy and caddy.
bench:
	bash integration/bench/run.sh
	# The proxy's round trip in process: plain, behind basicAuth + headers,
	# and with in-flight bounds set (allocations per request are exact).
	$(GO) test -run XXX -bench 'ProxyRoundTrip|Lookup|MatchPlain' -benchmem -count 3 ./proxy

# Overload benchmark: 10x the backend's capacity, and a slowloris of 1,000 clients.
bench-overload:
	bash integration/bench/overload.sh

# The deploy-under-load scenario repeated (issue: blue-green cutover).
bench-deploy:
	$(GO) test -count=1 -run XXX -bench BenchmarkDeployUnderLoad -benchtime 10x -v -timeout 30m ./integration/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseRule -fuzztime 60s ./upstream
	$(GO) test -run '^$$' -fuzz FuzzParseRule -fuzztime 60s ./proxy/rule
	$(GO) test -run '^$$' -fuzz FuzzParseLabels -fuzztime 60s ./upstream
	$(GO) test -run '^$$' -fuzz FuzzParseAndCheck -fuzztime 60s ./check
	$(GO) test -run '^$$' -fuzz FuzzExtractFingerprint -fuzztime 60s ./cutover
	$(GO) test -run '^$$' -fuzz FuzzFastPathParse -fuzztime 60s ./proxy/internal/h1
	$(GO) test -run '^$$' -fuzz FuzzUpstreamClientNeverMixesResponses -fuzztime 600s ./proxy/internal/upstreamconn
