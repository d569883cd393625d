"""Shared fixtures: a metadata emulator, a moto server (AWS API shape only), the chaos fleet."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

RECIPE_DIR = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def emulator():
    """A fresh metadata-service emulator on 127.0.0.1 (AWS, GCP and Azure paths)."""
    from spot_autoscaling.emulator import MetadataEmulator

    with MetadataEmulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def moto_url():
    """moto's server on 127.0.0.1 (API shape only: it does not simulate spot capacity or interruptions)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    yield f"http://{host}:{port}"
    server.stop()


def agent_cmd(*server: str) -> list[str]:
    """argv of the agent wrapping ``server``."""
    return [sys.executable, "-m", "spot_autoscaling.agent", "--", *server]
