"""Fixtures shared by the local provider's tests."""

import subprocess

import pytest


@pytest.fixture
def sleeper():
    """A process of another program than the one a test looks for: what must never be signalled."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()
