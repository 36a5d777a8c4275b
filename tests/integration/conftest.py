"""Fixtures shared by the integration tests that need a running local cluster."""

import pytest

from helpers import SITE_ARGS, failed_tasks, playbook, run


@pytest.fixture(scope="module")
def cluster():
    """A cluster that answers: the one that is up, or one brought up by site.yml."""
    if run(["scontrol", "ping"], check=False).returncode != 0:
        rc, data = playbook("site.yml", *SITE_ARGS)
        assert rc == 0, failed_tasks(data)
        run(["scontrol", "ping"])
    return True
