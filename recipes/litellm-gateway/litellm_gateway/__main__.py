"""``python -m litellm_gateway [--print-settings]``: the gateway with settings from ``LITELLM_GW_*`` variables."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, then run the gateway (or print the resolved settings as JSON)."""
    parser = argparse.ArgumentParser(prog="python -m litellm_gateway", description=__doc__)
    parser.add_argument("--print-settings", action="store_true", help="print resolved settings as JSON and exit")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.print_settings:
        out = settings.model_dump(mode="json")
        out["api_key"] = "***" if settings.api_key else None
        out["database_url"] = "***" if settings.database_url else None
        sys.stdout.write(json.dumps(out, indent=2) + "\n")  # CLI output, not a server log line
        return 0
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .launcher import Gateway

    return Gateway(settings).run()


if __name__ == "__main__":
    sys.exit(main())
