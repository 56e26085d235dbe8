# RCP build and test entry points. The logic lives in deploy/*.sh.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go
CMDS := rcpd rcpctl rcpbench

.PHONY: run stop test test-deps build fuzz bench sqlc sqlc-check fmt-check

## run: rcpd on :8080 with private Redis (16379) and MariaDB (13306), data in .run/
run:
	@deploy/run.sh

## stop: stop the dev Redis and MariaDB started by `make run`
stop:
	@deploy/stop.sh

## test: deps, private services (26379, 23306), fmt-check, sqlc-check, go vet, go test -race
test:
	@deploy/test.sh

## test-deps: install what the tests need (apt packages if missing, npm ci in tests/node)
test-deps:
	@deploy/test-deps.sh

## build: go build ./... and bin/<cmd> for every cmd/<cmd> that is a main package
build:
	$(GO) build ./...
	@mkdir -p bin
	@for c in $(CMDS); do \
		if [ -d "cmd/$$c" ] && [ "$$($(GO) list -f '{{.Name}}' "./cmd/$$c" 2>/dev/null)" = main ]; then \
			echo "$(GO) build -o bin/$$c ./cmd/$$c"; \
			$(GO) build -o "bin/$$c" "./cmd/$$c"; \
		else \
			echo "skip cmd/$$c (no main package yet)"; \
		fi; \
	done

## fuzz: fuzz the STOMP frame reader for 60s
fuzz:
	$(GO) test ./stomp -run '^$$' -fuzz FuzzReadFrame -fuzztime 60s

## bench: STOMP benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./stomp/...

## sqlc: (install sqlc v1.31.1 if missing and) regenerate sqlc/ from queries/
sqlc:
	@deploy/sqlc.sh generate

## sqlc-check: fail when the generated code in sqlc/ is stale
sqlc-check:
	@deploy/sqlc.sh check

## fmt-check: fail when a Go file is not gofmt-formatted
fmt-check:
	@deploy/fmt-check.sh

## help: list the targets
.PHONY: help
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
