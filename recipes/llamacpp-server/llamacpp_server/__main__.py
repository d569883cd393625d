"""``python -m llamacpp_server [--print-settings]``: serve with settings from ``LLAMACPP_*`` env vars."""

from __future__ import annotations

import argparse
import json
import sys

from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, then serve (or print the resolved settings as JSON)."""
    parser = argparse.ArgumentParser(prog="python -m llamacpp_server", description=__doc__)
    parser.add_argument("--print-settings", action="store_true", help="print resolved settings as JSON and exit")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.print_settings:
        out = settings.model_dump()
        out["resolved_threads"] = settings.threads()
        out["api_key"] = "***" if settings.api_key else None
        sys.stdout.write(json.dumps(out, indent=2) + "\n")  # CLI output, not a server log line
        return 0
    from .server import serve  # imports llama_cpp: only when serving

    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
