# Targets mirror the npm scripts; `make start` and `make test` also make sure PostgreSQL and
# Redis are running (infra/scripts/services.sh) and dependencies are installed.
.PHONY: start test services tools install build build-server browsers typecheck migrate api workers bench-ingest bench-plan ci compose-config clean

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json

# The dashboard's assets (npm ci builds them too; this rebuilds after a pull changed the sources).
DASHBOARD_SOURCES := $(shell find services/dashboard/web services/dashboard/vite.config.ts -type f 2>/dev/null)
services/dashboard/dist/index.html: node_modules/.package-lock.json $(DASHBOARD_SOURCES)
	npm run build

build: services/dashboard/dist/index.html

# The server's compiled entry points in dist/ (`npm start` builds them itself).
build-server: install
	npm run build:server

# Debian's Chromium for the browser tests (apt-get when missing).
browsers:
	bash infra/scripts/chromium.sh

services:
	bash infra/scripts/services.sh

tools:
	bash infra/scripts/tools.sh

start: services install build
	npm start

test: services tools install build browsers
	npm test

typecheck: install
	npm run typecheck

migrate: services install
	npm run migrate

api: install
	npm run start:api

workers: install
	npm run start:workers

bench-ingest: services install
	npm run bench:ingest

bench-plan: services install
	npm run bench:plan

ci:
	bash .ci/run

compose-config:
	docker compose config --quiet

clean:
	rm -rf node_modules */*/node_modules services/dashboard/dist bench/results/*.json
