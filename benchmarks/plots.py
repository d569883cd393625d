"""One figure per task from its results (matplotlib, Agg): every backend on it.

Chat: output tokens/s vs concurrency, and median TTFT and TPOT (p90 as a band edge marker). Embeddings:
embeddings/s vs concurrency for each batch size, and median request latency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402


def _ok(res: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in res["backends"] if b["status"] == "ok" and b["levels"]]


def _title(res: dict[str, Any]) -> str:
    hw = res["hardware"]
    return (f"{hw['cpu']}, {hw['logical_cores']} cores, no GPU; {res['date'][:10]}"
            + ("  [SMOKE RUN: not a measurement]" if res.get("smoke") else ""))


def plot_task(res: dict[str, Any], out_dir: Path) -> str:
    """Write ``out_dir/<task>.png``; returns its file name."""
    name = f"{res['task']}.png"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    if res["task"] == "chat":
        for i, b in enumerate(_ok(res)):
            c = [lv["concurrency"] for lv in b["levels"]]
            kw = {"color": f"C{i}", "label": b["label"]}
            axes[0].plot(c, [lv["output_tokens_per_s"] for lv in b["levels"]], "o-", **kw)
            axes[1].plot(c, [(lv["ttft"] or {}).get("p50_ms") for lv in b["levels"]], "o-", **kw)
            axes[2].plot(c, [(lv["tpot"] or {}).get("p50_ms") for lv in b["levels"]], "o-", **kw)
        ylabels = ["output tokens/s (all requests)", "TTFT p50 (ms)", "TPOT p50 (ms)"]
        wl = res["workload"]
        sub = f"chat, {wl['input_words']} words in / {wl['output_tokens']} tokens out, {wl['prompts_per_level']} x c requests"
    else:
        for i, b in enumerate(_ok(res)):
            for batch in sorted({lv["batch"] for lv in b["levels"]}):
                lvs = [lv for lv in b["levels"] if lv["batch"] == batch]
                c = [lv["concurrency"] for lv in lvs]
                ls = "o-" if batch > 1 else "s--"
                ax = axes[0] if batch > 1 else axes[1]
                ax.plot(c, [lv["embeddings_per_s"] for lv in lvs], ls, color=f"C{i}", label=f"{b['label']}")
                axes[2].plot(c, [(lv["e2e"] or {}).get("p50_ms") for lv in lvs], ls, color=f"C{i}",
                             label=f"{b['label']}, batch {batch}")
        batches = sorted({lv["batch"] for b in _ok(res) for lv in b["levels"]}) or [0]
        ylabels = [f"embeddings/s, batch {batches[-1]}", f"embeddings/s, batch {batches[0]}", "request latency p50 (ms)"]
        sub = "embeddings (all-MiniLM-L6-v2)"
    levels = sorted({lv["concurrency"] for b in _ok(res) for lv in b["levels"]})
    for ax, yl in zip(axes, ylabels):
        ax.set_xscale("log", base=2)
        if levels:
            ax.set_xticks(levels)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("concurrency (requests in flight)")
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7)
    for ax in axes:
        ax.set_ylim(bottom=0)
    fig.suptitle(f"{sub} | {_title(res)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    return name
