# vifpath: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
PKGS := ./...

.PHONY: all deps demo test lint unit bench
all: test

## deps: install the Debian packages the tests and demo need (root).
deps:
	bash scripts/deps.sh

## demo: the main job: a demo topology in throwaway namespaces, inspected.
demo: deps
	$(GO) run ./examples/bridgeinfo -demo

## lint: go vet and gofmt.
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## test: every tier: unit, integration (root), acceptance.
test: deps lint
	$(GO) test -count=1 -timeout 40m $(PKGS)

## bench: the benchmarks that compare against iproute2, virsh and friends.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 2s $(PKGS)
