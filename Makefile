# vifpath: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
export GO
PKGS := ./...

.PHONY: all deps demo test lint check bench bench-trace
all: test

## deps: install the Debian packages the tests and demo need (root).
deps:
	bash scripts/deps.sh

## demo: the main job: the walkthrough's path in throwaway namespaces (real dnsmasq, a DHCP-ing
## guest: a qemu TCG domain in the demo's own libvirtd, its image built once by
## scripts/guest-image.sh), traced hop by hop from the server of an in-process fake
## Nova/Neutron, one hop broken, traced again, everything removed.
demo: deps
	bash scripts/guest-image.sh
	$(GO) run ./examples/vmtrace -demo

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

## lint: go vet (this GOOS and darwin, with and without the acceptance tag), gofmt, staticcheck (pinned).
lint:
	$(GO) vet $(PKGS)
	$(GO) vet -tags acceptance $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run $(STATICCHECK) $(PKGS)

## check: unit and integration tiers (integration needs root; real kernel objects, dnsmasq, libvirtd, qemu).
check: deps lint
	GOTEST_FLAGS="-timeout 40m" bash scripts/gotest.sh $(PKGS)

## test: every tier: lint, unit, integration, then acceptance on the all-in-one cloud (aio/).
test: check acceptance-all

## acceptance-all: bring up the all-in-one OpenStack (aio/up.sh) and run every acceptance suite.
## The suites share the cloud's one flat network and the default group's rules, which each
## creates, checks and deletes: -p 1 runs the packages one after the other.
## The project's cloud serves noVNC, so launch's console check must get a real URL.
acceptance-all: aio-up
	OS_CLOUD=vifpath-aio OS_CLIENT_CONFIG_FILE=/etc/openstack/clouds.yaml VIFPATH_ACCEPTANCE_CONSOLE=required \
	  GOTEST_FLAGS="-p 1 -tags acceptance -timeout 30m" bash scripts/gotest.sh ./acceptance/... ./launch/... \
	  || { bash aio/logs.sh 60; exit 1; }

## bench: the benchmarks, each timing its CLI comparison (iproute2, virsh, arping) in the same run.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 2s $(PKGS)

## bench-trace: issue 10's and 12's trace figures (one VM among 200 NICs, the node whole, 200 singles,
## the operator's commands; BenchmarkNode200/wave1, /full and /judge with no wait, BenchmarkRun200; then
## BenchmarkNode200/defaults with every wait at its default, once: over 200 s), as root, with the load beside them.
bench-trace: deps
	uptime
	CI=true $(GO) test -count=1 -run '^$$' -bench 'BenchmarkNode200/(wave1|full|judge)|BenchmarkRun200' -benchtime 3x -v ./trace/
	CI=true $(GO) test -count=1 -run '^$$' -bench 'BenchmarkNode200/defaults' -benchtime 1x -v ./trace/
	uptime

include aio/aio.mk
