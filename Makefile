# AI Deployment Cookbook. `make serve` and `make test` do all set-up (a venv in .venv, created on demand).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve build test test-fast bench bench-all check-catalog sync-vendored sync-provenance audit clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

## serve: build strictly, then serve the site at http://127.0.0.1:8000 with live reload
serve: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet
	SITE_URL=http://127.0.0.1:8000/ $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## build: strict build into site/
build: $(STAMP)
	$(BIN)/mkdocs build --strict

## test: everything CI runs (repo tests, every recipe in its own venv, every notebook)
test: $(STAMP)
	bash scripts/test-all.sh

## test-fast: repo-level tests and the site's own notebooks only
test-fast: $(STAMP)
	bash scripts/test-all.sh --fast

## bench: run every recipe's bench (writes recipes/*/results/)
bench:
	for r in recipes/*/; do $(MAKE) -C $$r bench || exit 1; done

## bench-all: the cross-backend benchmarks (benchmarks/: every recipe server, one at a time, under the bench
## lock; ~20 min on 2 cores; writes benchmarks/results/); not part of `make test`
bench-all: $(STAMP)
	$(BIN)/python -m benchmarks run

## check-catalog: validate catalog/*.yaml and regenerate catalog/schema.json
check-catalog: $(STAMP)
	$(BIN)/python -m cookbook.catalog --schema > catalog/schema.json
	$(BIN)/python -m cookbook.catalog

## sync-vendored: copy cookbook/provenance_template.py (every recipe) and cookbook/servekit_template.py (recipes
## that already vendor it) into the recipe packages, byte for byte
sync-vendored: $(STAMP)
	$(BIN)/python -m cookbook.recipes --sync-vendored

sync-provenance: sync-vendored

## audit: screenshots (light/dark) and Lighthouse scores of five page types, into .cache/audit
audit: $(STAMP)
	bash scripts/audit-site.sh

clean:
	rm -rf site .test-reports $(VENV) recipes/*/.venv
