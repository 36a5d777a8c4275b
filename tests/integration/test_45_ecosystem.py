"""The collection as its users consume it, on the running recipe cluster: the molecule scenarios of
the roles that configure a cluster, and site.yml run from the built tarball installed into an
empty collections path (ansible-playbook hpc.parallelcluster.site)."""

import json
import os
import subprocess

import pytest

from helpers import IDLE_MINUTES, ROOT, SITE_ARGS, changed_tasks, failed_tasks, playbook, run, sinfo_nodes, task_results

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


def test_site_tags_reapply_only_the_head_node_configuration(cluster):
    """`--tags head_node` runs the head node's roles on the cluster that exists and nothing of the AWS side."""
    rc, data = playbook("site.yml", *SITE_ARGS, "--tags", "head_node")
    assert rc == 0, failed_tasks(data)
    ran = {task["task"]["name"] for play in data["plays"] for task in play["tasks"]}
    assert any(name.startswith("hpc.parallelcluster.slurm_tuning : ") for name in ran), sorted(ran)
    assert any(name.startswith("hpc.parallelcluster.job_tools : ") for name in ran), sorted(ran)
    # Nothing from the cloud side or the smoke test ran, and the converged head node did not change.
    assert not any(name.split(" : ")[0] in ("hpc.parallelcluster.vpc", "hpc.parallelcluster.pcluster")
                   for name in ran), sorted(ran)
    assert "Submit the smoke test and wait for it, as ec2-user" not in ran
    assert "localhost" not in data["stats"] or data["stats"]["localhost"]["changed"] == 0, data["stats"]
    assert data["stats"]["hpc-cluster-head"]["changed"] == 0, changed_tasks(data)


def test_status_playbook_shows_the_cluster_its_queues_and_nodes(cluster):
    rc, data = playbook("status.yml")
    assert rc == 0, failed_tasks(data)
    described = task_results(data, "Cluster hpc-cluster")["localhost"]["msg"]
    assert described["status"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), described
    assert described["compute_fleet"] == "RUNNING" and described["queues"] == ["compute"], described
    queues = task_results(data, "Queues and nodes")["hpc-cluster-head"]["msg"]
    # Every node Slurm knows, each with its state as sinfo gives it.
    expected = set(sinfo_nodes())
    assert {line.split()[0] for line in queues["compute"]} == expected, queues
    assert all(len(line.split()) == 2 for line in queues["compute"]), queues
