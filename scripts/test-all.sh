#!/usr/bin/env bash
# The whole test suite: repo tests, each recipe's tests in the recipe's own venv (recipes are
# copyable: `make -C recipes/<name> test` is exactly what a user runs), and every notebook through
# nbmake (a notebook tied to a recipe runs in that recipe's venv). Prints one closing line
# "N passed, N failed, N skipped" summed over all runs; exits non-zero if anything failed.
# After the recipes, the conformance suite (tests/conformance) starts every recipe server from the recipe's
# own venv and checks the Server conventions black-box (CONTRIBUTING.md).
# A full run ends by writing the test-run record verification/last-run.json (cookbook/dashboard.py), which the
# verification dashboard page shows.
# Usage: scripts/test-all.sh [--fast]   (--fast: repo tests and site notebooks only; writes no record)
set -u
cd "$(dirname "$0")/.."
root=$PWD
reports=$root/.test-reports
rm -rf "$reports"; mkdir -p "$reports"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NO_MKDOCS_2_WARNING=1 PYTHONUNBUFFERED=1
fast=0; [ "${1:-}" = "--fast" ] && fast=1
failed=()

step() { echo; echo "=== $* ==="; }

step "repo tests"
.venv/bin/python -m pytest tests --ignore=tests/conformance --junitxml="$reports/repo.xml" || failed+=("repo tests")

if [ $fast = 0 ]; then
  # every recipe's venv first: some recipes' tests start a sibling recipe's server from its own venv
  # (the gateway fronts llama.cpp, the spot chaos test runs onnx-embeddings replicas)
  for dir in recipes/*/; do
    step "venv $(basename "$dir")"
    make -C "$dir" venv || failed+=("venv $(basename "$dir")")
  done
  for dir in recipes/*/; do
    name=$(basename "$dir")
    step "recipe $name"
    PYTEST_ADDOPTS="--junitxml=$reports/recipe-$name.xml" make -C "$dir" test || failed+=("recipe $name")
  done
  step "conformance suite (every recipe server, black-box)"
  .venv/bin/python -m pytest tests/conformance --junitxml="$reports/conformance.xml" || failed+=("conformance suite")
fi

for nb in notebooks/*.ipynb; do
  recipe=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['metadata'].get('cookbook',{}).get('recipe',''))" "$nb")
  if [ -n "$recipe" ]; then
    [ $fast = 1 ] && continue
    py=recipes/$recipe/.venv/bin/python
  else
    py=.venv/bin/python
  fi
  step "notebook $nb (${recipe:-site} venv)"
  "$py" -m pytest --nbmake -p no:cacheprovider "$nb" --junitxml="$reports/nb-$(basename "$nb" .ipynb).xml" \
    || failed+=("notebook $nb")
done

step "summary"
.venv/bin/python -m cookbook.testreport "$reports"
if [ $fast = 0 ]; then
  # the test-run record the verification dashboard shows (committed from the final fresh-clone CI run);
  # a failure to write it is reported but does not change the exit status
  .venv/bin/python -m cookbook.dashboard --record "$reports" --out verification/last-run.json \
    && echo "test-run record: verification/last-run.json" \
    || echo "WARNING: could not write verification/last-run.json" >&2
fi
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
