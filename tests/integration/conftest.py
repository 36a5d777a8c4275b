"""Fixtures shared by the integration tests that need a running local cluster."""

import pytest

from helpers import SITE_ARGS, cluster_secrets, failed_tasks, playbook, run


def _controller_answers():
    """False on a machine where site.yml has not installed Slurm yet, as well as when it is down."""
    try:
        return run(["scontrol", "ping"], check=False).returncode == 0
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def cluster():
    """A cluster that answers: the one that is up, or one brought up by site.yml."""
    if not _controller_answers():
        rc, data = playbook("site.yml", *SITE_ARGS)
        assert rc == 0, failed_tasks(data)
        run(["scontrol", "ping"])
    return True


@pytest.fixture(scope="session")
def site_vvv():
    """One site.yml run at -vvv (it brings the cluster up if it is not), whose output the secret tests
    read (test_12: the emulator's secret key; test_60: the password, munge key and private key), and
    the secrets as they were on disk right after it. -vvv prints every module's arguments and
    results: one run shows them all."""
    rc, output = playbook("site.yml", *SITE_ARGS, "-vvv", json_output=False, timeout=2400)
    assert rc == 0, output[-6000:]
    return {"output": output, "secrets": cluster_secrets()}


ATTACKER = "hpc-attacker"


@pytest.fixture(scope="session")
def attacker():
    """An unprivileged local account, as a cluster user who can log in and submit jobs would have.

    The attack tests run every attack as this user (``helpers.run(args, user=attacker)``) and then
    check that nothing outside its rights changed."""
    import pwd

    try:
        pwd.getpwnam(ATTACKER)
    except KeyError:
        run(["useradd", "--create-home", "--shell", "/bin/bash", ATTACKER])
    return ATTACKER
