"""The collection as its users consume it, on the running recipe cluster: the molecule scenarios of
the roles that configure a cluster, and site.yml run from the built tarball installed into an
empty collections path (ansible-playbook hpc.parallelcluster.site)."""

import json
import os
import subprocess

import pytest

from helpers import IDLE_MINUTES, ROOT, SITE_ARGS, run

pytestmark = pytest.mark.integration


def _script(*args, timeout=1200, **env):
    proc = subprocess.run([os.path.join(ROOT, "tests", args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False, env=dict(os.environ, **env))
    return proc.returncode, proc.stdout + proc.stderr


def test_molecule_scenarios_of_the_cluster_roles_converge_idempotently_and_verify(cluster):
    rc, out = _script("molecule.sh", "cluster", HPC_SCALEDOWN_IDLETIME=IDLE_MINUTES)
    assert rc == 0, out[-5000:]
    for scenario in ("pcluster", "slurm_tuning", "hpc_stack", "job_tools", "slurm_rest"):
        assert "molecule %s: passed" % scenario in out, out[-3000:]


def test_site_from_the_installed_tarball_converges_the_cluster(cluster):
    rc, out = _script("tarball.sh", "run-site", *SITE_ARGS, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1")
    assert rc == 0, out[-5000:]
    data = json.loads(out[out.index("{"):out.rindex("}") + 1])
    stats = data["stats"]
    # The cluster make site deployed is the one the installed collection finds, already converged.
    assert stats["localhost"]["failures"] == 0 and stats["localhost"]["changed"] == 0, stats
    assert stats["hpc-cluster-head"]["failures"] == 0, stats
    run(["scontrol", "ping"])
