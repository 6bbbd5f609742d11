# Targets mirror the npm scripts; `make start` and `make test` also make sure PostgreSQL and
# Redis are running (infra/scripts/services.sh) and dependencies are installed.
.PHONY: start test services tools install typecheck migrate api workers bench-ingest bench-plan ci compose-config clean

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json

services:
	bash infra/scripts/services.sh

tools:
	bash infra/scripts/tools.sh

start: services install
	npm start

test: services tools install
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
	rm -rf node_modules */*/node_modules bench/results/*.json
