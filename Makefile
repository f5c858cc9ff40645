# Switchyard: `make demo` (or `make up` with Docker) runs it, `make test` proves it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BACKENDS ?= 3
# Node.js 24 or newer runs everything here. When the `node` on PATH is older
# (or missing), the targets that need one use the project's own Node 26,
# fetched once from the npm registry into .cache/node/ (scripts/node-runtime.sh).
NODE_GOALS := install build typecheck lint format test unit integration e2e swarm-e2e swarm-up swarm-down demo docs fuzz chaos load bench bench-registry bench-compose soak
ifneq ($(filter $(NODE_GOALS),$(MAKECMDGOALS)),)
PROJECT_NODE_BIN := $(shell bash scripts/node-runtime.sh --unless 24)
ifneq ($(.SHELLSTATUS),0)
$(error Switchyard needs Node.js 24 or newer and could not fetch its own Node 26 (see above); install Node.js 24+, or fix and run: bash scripts/node-runtime.sh)
endif
ifneq ($(PROJECT_NODE_BIN),)
export PATH := $(PROJECT_NODE_BIN):$(PATH)
endif
endif
NODE_TEST := node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=180000
UNIT_TESTS := $(shell find tests/unit -name '*.test.ts' 2>/dev/null | sort)
INTEGRATION_TESTS := $(shell find tests/integration -name '*.test.ts' 2>/dev/null | sort)

.PHONY: help install build typecheck lint format test unit integration e2e swarm-e2e swarm-up swarm-down demo docs screenshot clean up down scale stop kill start pause unpause fault logs ps compose-v2

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package-lock.json
	npm ci
	@touch $@

install: node_modules/.package-lock.json ## install dependencies (npm ci)

build: install ## compile TypeScript to dist/
	npm run build

typecheck: install ## type-check sources as the build does (unused locals are errors), then tests and scripts
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p tsconfig.test.json

lint: install ## ESLint (type-aware: floating promises, unsafe any), Prettier's check, the import layers (dependency-cruiser), no copied runs in the request path (jscpd)
	npx eslint .
	npx prettier --check '**/*.ts'
	npx depcruise balancer backend controller common cli --output-type err
	npx jscpd balancer/forward --format typescript --min-tokens 50 --reporters console --exit-code 1

format: install ## rewrite every TypeScript file in Prettier's format
	npx prettier --write '**/*.ts'

test: typecheck lint unit integration e2e swarm-e2e ## every test: lint, unit, integration (real Redis, real sockets), end-to-end (real Docker: Compose, then Swarm)

unit: install ## pure logic: strategies, health transitions, config, registry schema
	$(NODE_TEST) $(UNIT_TESTS)

integration: install ## real sockets, real redis-server on a free port, real child processes
	bash scripts/ensure-deps.sh redis-server:redis-server redis-sentinel:redis-sentinel promtool:prometheus chromium:chromium openssl:openssl curl:curl pebble:pebble
	$(NODE_TEST) $(INTEGRATION_TESTS)

e2e: install ## the Docker Compose stack against a real Docker engine
	bash scripts/e2e.sh

swarm-e2e: install ## the stack on a single-node Docker Swarm: deploy, scale 3→5→2 and a rolling update under load (own stage, 300 s)
	bash scripts/swarm-e2e.sh

# --- Docker Compose stack (scripts/stack.sh; Compose v1 or v2) -------------
# Offline (no image registry) base images are made from this host's node and
# redis-server; OFFLINE=1 skips trying the registry first.
STACK := bash scripts/stack.sh

up: ## Docker: build if needed, start Redis, balancer, controller, BACKENDS backends; wait until served
	BACKENDS=$(BACKENDS) $(STACK) up

down: ## Docker: stop and remove the stack
	$(STACK) down

scale: ## Docker: run N backends (make scale N=5)
	$(STACK) scale $(N)

stop: ## Docker: docker stop backend replica N (make stop N=3)
	$(STACK) stop $(N)

kill: ## Docker: docker kill backend replica N
	$(STACK) kill $(N)

start: ## Docker: docker start backend replica N
	$(STACK) start $(N)

pause: ## Docker: docker pause backend replica N
	$(STACK) pause $(N)

unpause: ## Docker: docker unpause backend replica N
	$(STACK) unpause $(N)

fault: ## Docker: faults of backend replica N on its control port (make fault N=3 FAULT='{"latencyMs":200}' or FAULT=clear)
	$(STACK) fault $(N) '$(FAULT)'

logs: ## Docker: follow the logs of the stack
	$(STACK) logs

ps: ## Docker: list the stack's containers
	$(STACK) ps

swarm-up: install ## Docker Swarm: single-node swarm if none, build, deploy the stack (STACK=switchyard, BACKENDS=3), wait until served
	BACKENDS=$(BACKENDS) bash scripts/swarm.sh up
swarm-down: ## Docker Swarm: remove the stack; leave the swarm if swarm-up created it
	bash scripts/swarm.sh down
compose-v2: ## Docker: install Compose v2 (docker compose) beside v1, from Debian trixie (bookworm has only v1)
	bash scripts/compose-v2.sh

demo: build ## run N local backends and a balancer (BACKENDS=3); Ctrl+C stops all
	node dist/cli/switchyard.js demo --backends $(BACKENDS)

docs: install ## regenerate docs/configuration.md from the option tables
	npx tsx scripts/config-docs.ts

screenshot: ## refresh docs/images/dashboard.png from the Docker stack's dashboard (e2e), else the browser test's
	@if [ -f tests/output/dashboard-stack.png ]; then \
	  cp tests/output/dashboard-stack.png docs/images/dashboard.png; \
	  echo "docs/images/dashboard.png <- tests/output/dashboard-stack.png (the Docker stack's dashboard, tests/e2e/10-dashboard-in-stack.test.ts)"; \
	elif [ -f tests/output/dashboard.png ]; then \
	  cp tests/output/dashboard.png docs/images/dashboard.png; \
	  echo "no tests/output/dashboard-stack.png (bash scripts/e2e.sh tests/e2e/10-dashboard-in-stack.test.ts takes it): used the integration test's tests/output/dashboard.png (local demo, not the Docker stack)" >&2; \
	else \
	  echo "no screenshot yet: run bash scripts/e2e.sh tests/e2e/10-dashboard-in-stack.test.ts (the Docker stack) or make integration (the local demo)" >&2; exit 1; \
	fi

clean: ## remove build output
	rm -rf dist tests/output

# --- Hostile input: the differential request fuzzer (docs/security.md) ------
.PHONY: fuzz
FUZZ_ARGS ?= --cases 3000

fuzz: install ## the request fuzzer on every engine, longer than CI's run (FUZZ_ARGS="--seed N --cases N --from N")
	node --import tsx tests/fuzz/main.ts $(FUZZ_ARGS)

# --- Chaos: a failure story replayed under load (docs/chaos.md) -------------
.PHONY: chaos
SCENARIO ?= scenarios/demo-quick.yaml
CHAOS_ARGS ?= --chart chaos.svg

chaos: build ## replay a failure scenario under load and report what was lost (SCENARIO=scenarios/demo-quick.yaml, CHAOS_ARGS=...)
	node dist/cli/switchyard.js chaos $(SCENARIO) $(CHAOS_ARGS)

# --- Measuring: load tool, benchmark, soak (docs/load-tool.md, docs/performance.md) ---
.PHONY: load bench bench-registry bench-compose soak
URL ?= http://localhost:9090
LOAD_ARGS ?= --requests 5000
BENCH_ARGS ?=
SOAK_ARGS ?=
REGISTRY_BENCH_ARGS ?=
COMPOSE_BENCH_ARGS ?=

load: build ## send bounded load to the local stack (URL=..., LOAD_ARGS=...) and show the per-backend spread
	node dist/cli/switchyard.js load $(URL) $(LOAD_ARGS)

bench: build ## Switchyard vs nginx, HAProxy and Node baselines in one run, HTTPS and HTTP/2 too, < 12 min (BENCH_ARGS=--smoke ...)
	node dist/cli/switchyard.js bench $(BENCH_ARGS)

bench-compose: build ## the running stack (make up) through its published port vs straight to the balancer container (COMPOSE_BENCH_ARGS=...)
	node dist/cli/switchyard.js bench-compose $(COMPOSE_BENCH_ARGS)

bench-registry: build ## 10,000 backends written to a Redis registry at once: apply time, RSS, event-loop delay, /metrics (REGISTRY_BENCH_ARGS=...)
	bash scripts/ensure-deps.sh redis-server:redis-server
	node dist/cli/switchyard.js bench-registry $(REGISTRY_BENCH_ARGS)

soak: build ## 1,000,000 requests or 10 min with aborting clients; fails if RSS or fds grow (SOAK_ARGS=...)
	node dist/cli/switchyard.js soak $(SOAK_ARGS)
