# slotless: the Pulumi program, its release tool, the function app and the subset SDK.
# `make test` is what CI runs; it needs Go, git, npm, the Go module proxy and the npm registry.
# Every other tool it fetches itself: staticcheck and actionlint through `go run`, shellcheck as
# Debian's package unpacked into .cache/tools (see .ci/fetch-shellcheck).

GO          ?= go
# One build configuration for everything make test compiles (the tests, the engine suite's
# binaries, the Pulumi CLI, the function app and the release archives): CGO off and -trimpath,
# as make dist builds a release. Each package then compiles once, where two configurations would
# compile the Pulumi SDK twice (about 3.5 minutes more on 2 cores from an empty cache).
export CGO_ENABLED := 0
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)
STACK       ?= dev
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
ACTIONLINT  ?= $(GO) run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
NPM_DIR     ?= $(CURDIR)/.cache/azure-native-3.28.0
export AZURE_NATIVE_NPM_DIR := $(NPM_DIR)/package
# shellcheck from PATH when there is one, else Debian's package fetched into .cache/tools.
TOOLS       ?= $(CURDIR)/.cache/tools
ifndef SHELLCHECK
SHELLCHECK  := $(or $(shell command -v shellcheck 2>/dev/null),$(TOOLS)/usr/bin/shellcheck)
endif
# make build: the CLI with its version stamped, for repeat use without go run's compile check.
BIN         ?= bin/slotless
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: test checks lint unit browser report-screenshot e2e engine report-records bench-shift sdk sdk-check conform pipelines-lint plan build dist package bench clean

## test: everything CI checks — lint, unit and mock tests, SDK regeneration and conformance,
## and the pipeline definitions. The checks, the unit tests and the engine suite run side by
## side (each one's output is printed whole when it ends): the unit tests' longest packages
## mostly wait on their own HTTP servers, and the engine suite is CPU-bound, so together they
## take 4 min 37 s to 5 min 23 s warm on 2 cores (docs/performance.md)
test: sdk-check
	$(MAKE) --no-print-directory -j3 --output-sync=target checks unit e2e

## checks: lint, conformance, the pipelines and the report's browser test; they only read the
## tree, so make test runs them beside the unit tests and the engine suite (sdk-check, which
## rewrites sdks/azure-native, runs before them)
checks: lint conform pipelines-lint browser

## lint: go vet, gofmt and staticcheck over every module
lint:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	$(GO) vet -tags browser ./internal/report/
	cd sdks/gen && $(GO) vet ./...
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^sdks/azure-native/'))"; \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags e2e ./e2e/...

## unit: the program, CLI, function app and SDK mock tests, and the release check (internal/dist
## builds this machine's make dist archive twice and installs it: 10 to 30 s, the packages it
## links being compiled already for the tests in the same configuration)
unit:
	$(GO) test -count=1 ./...

## browser: the release report's HTML rendered in headless Chromium: Debian's package from PATH,
## else fetched into .cache/tools (.ci/fetch-chromium, about 10 s). Screenshots go to ARTIFACTS.
CHROMIUM  ?= $(shell command -v chromium 2>/dev/null)
ARTIFACTS ?= $(CURDIR)/.cache/artifacts
browser:
	@chromium="$(CHROMIUM)"; if [ -z "$$chromium" ]; then chromium="$$(.ci/fetch-chromium $(TOOLS))" || exit 1; fi; \
		echo "CHROMIUM=$$chromium go test -tags browser ./internal/report/ (screenshots in $(ARTIFACTS))"; \
		CHROMIUM="$$chromium" SLOTLESS_ARTIFACTS="$(ARTIFACTS)" $(GO) test -count=1 -tags browser -run TestReportInBrowser ./internal/report/

## report-screenshot: the README's picture of a rolled-back release, from the engine suite's record
report-screenshot: browser
	cp $(ARTIFACTS)/report-aborted.png docs/report-aborted.png

PULUMI_VERSION := v3.274.1
PULUMI_CLI     := $(CURDIR)/.cache/bin/pulumi

## engine: the Pulumi CLI, built from the Go module proxy into .cache/bin/pulumi (about 9 min and
## 2.3 GB cold on 2 cores; reused when present). The version is linked in, or the Automation API
## cannot parse it.
engine: $(PULUMI_CLI)
$(PULUMI_CLI): e2e/cli/go.mod
	@echo "building the Pulumi CLI $(PULUMI_VERSION) (about 9 minutes from a cold cache)..."
	cd e2e/cli && $(GO) build -o $(PULUMI_CLI) \
		-ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(PULUMI_VERSION)" \
		github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	$(PULUMI_CLI) version

## e2e: the engine suite: README flows through the real CLI and engine, against the azure-native
## stand-in in e2e/azurefake. Many scenarios wait (bakes of seconds, lags, held updates), so more
## of them run at once than there are cores: E2E_PARALLEL at a time, the longest first
## (e2e/schedule_test.go admits them; -parallel only lets every test reach it). On 2 cores ten
## took 145 to 163 s, sixteen no less (docs/performance.md).
# GOGC=400: most of the suite's CPU is the Pulumi CLI's, started hundreds of times, and Go's
# collector runs several cycles during each start's initialisation; collecting four times less
# often cut the suite's CPU by about a tenth (docs/performance.md). Memory is not the limit.
E2E_PARALLEL ?= 10
e2e: engine
	GOGC=400 E2E_SLOTS=$(E2E_PARALLEL) $(GO) test -count=1 -tags e2e -timeout 40m -parallel 64 ./e2e/

## report-records: refresh the report's test records (internal/report/testdata) from the engine
## suite's healthy, rolled-back and resumed releases; then make report-screenshot
report-records: engine
	E2E_RECORDS=$(CURDIR)/internal/report/testdata E2E_SLOTS=3 $(GO) test -count=1 -tags e2e -timeout 20m -parallel 8 \
		-run 'TestReleaseReachesGA|TestReleaseRollsBackAFailingCanary|TestReleaseResumesAfterACrash' ./e2e/

## bench-shift: time slotless shift and rollback through the engine against the stand-in
bench-shift: engine
	$(GO) test -count=1 -tags e2e -run XXX -bench BenchmarkShift -benchtime 5x ./e2e/

## sdk: regenerate sdks/azure-native from sdks/azure-native/schema.json
sdk:
	cd sdks/gen && $(GO) run . generate -schema ../azure-native/schema.json -out ../azure-native

## sdk-check: regenerating yields no diff
sdk-check: sdk
	@git diff --exit-code --stat -- sdks/azure-native || { echo "sdks/azure-native is stale or hand-edited: run make sdk and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- sdks/azure-native)" || { git status --porcelain -- sdks/azure-native; echo "make sdk wrote untracked files"; exit 1; }

$(NPM_DIR)/package/package.json:
	mkdir -p $(NPM_DIR)
	cd $(NPM_DIR) && npm pack --silent @pulumi/azure-native@3.28.0 >/dev/null && tar xzf pulumi-azure-native-3.28.0.tgz

## conform: compare the schema subset with the published @pulumi/azure-native@3.28.0 declarations
conform: $(NPM_DIR)/package/package.json
	cd sdks/gen && $(GO) run . conform -schema ../azure-native/schema.json -npm $(AZURE_NATIVE_NPM_DIR)
	cd sdks/gen && $(GO) test -count=1 ./...

$(TOOLS)/usr/bin/shellcheck:
	.ci/fetch-shellcheck $(TOOLS)

## pipelines-lint: actionlint on every workflow (it runs shellcheck on their scripts) and
## shellcheck on every script; shellcheck is fetched when it is not on PATH
pipelines-lint: $(SHELLCHECK)
	@echo "shellcheck $(SHELLCHECK): $$($(SHELLCHECK) --version | sed -n 2p)"
	$(ACTIONLINT) -shellcheck=$(SHELLCHECK) .github/workflows/*.yml
	$(SHELLCHECK) scripts/*.sh bench/*.sh actions/setup-slotless/install.sh .ci/run .ci/fetch-shellcheck .ci/fetch-chromium

## plan: the offline plan of a stack (STACK=dev)
plan:
	$(GO) run ./cmd/slotless plan --stack $(STACK)

## build: bin/slotless with the version stamped (VERSION=v1.2.3 to choose it), naming each
## package as it compiles; then bin/slotless plan runs without compiling
build:
	$(GO) build -v -ldflags "-X github.com/slotless/slotless/internal/buildinfo.version=$(VERSION)" -o $(BIN) ./cmd/slotless

## dist: a release in $(DIST): one archive per platform (PLATFORMS, default all six), install.sh
## and SHA256SUMS. VERSION is required (v<semver>). Reproducible: entries are stamped with
## SOURCE_DATE_EPOCH, by default HEAD's commit time, and the builds carry no path of this machine.
## A platform other than this machine's compiles everything for it (about 3.5 min on 2 cores),
## then about 5 s. See docs/install.md.
DIST      ?= dist
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
dist:
	@if [ "$(origin VERSION)" = file ]; then \
		echo "make dist: VERSION is required, v<semver>: make dist VERSION=v1.2.3 [PLATFORMS=\"linux/amd64 darwin/arm64\"]" >&2; exit 2; fi
	rm -rf "$(DIST)"
	$(GO) run ./internal/dist/cmd/dist -go "$(GO)" -version "$(VERSION)" -platforms "$(PLATFORMS)" -out "$(DIST)"

## package: the deployable function zip
package:
	$(MAKE) -C functionapp package

## bench: function app benchmarks, the report of a day-long release, the gates' error rates
## (the grid of docs/performance.md, "How often the gates are wrong": GRID_RELEASES releases a
## cell, GRID_HEALTHY a healthy one, then the bake sizing, GRID_SIZING a rung; its tables go to
## .cache/grid.md), then the cold-build cost of the bindings (slow: the grid about 25 min of 2
## cores, the build ~7 min)
GRID_RELEASES ?= 2000
GRID_HEALTHY  ?= 5000
GRID_SIZING   ?= 1000
bench:
	$(MAKE) -C functionapp bench
	$(GO) test -run XXX -bench BenchmarkReport24h -benchmem -benchtime 5x ./internal/report/
	$(GO) test -run XXX -bench BenchmarkRelease ./internal/sim/
	mkdir -p .cache
	$(GO) test -count=1 -timeout 4h -v -run 'TestGrid$$' ./internal/sim/ -grid.releases $(GRID_RELEASES) -grid.healthy $(GRID_HEALTHY) -grid.sizing $(GRID_SIZING) -grid.out $(CURDIR)/.cache/grid.md
	bench/coldbuild.sh

clean:
	$(MAKE) -C functionapp clean
	rm -rf .cache bin dist
