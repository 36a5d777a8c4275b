"""Cluster names and cluster records on the running recipe cluster.

An unprivileged account cannot write to the local provider's record folder, so it cannot plant a
record there; a file it plants elsewhere is never reached through a cluster name such as
``../../../../tmp/x``: pcluster_cluster refuses the name before reading anything, so no record
outside the folder is read, no folder it names is removed, no user deleted and no daemon stopped.
A damaged record (as a crash or a hand edit leaves it) is skipped with a warning naming the file by
pcluster_cluster_info, the inventory and site.yml, which keep working; describing it fails naming
the file and the fix, and deleting it removes only that record while another cluster runs.
"""

import json
import os
import pwd
import stat
import subprocess

import pytest

from helpers import ROOT, SITE_ARGS, VENV_BIN, ansible_env, failed_tasks, playbook, run, task_results

pytestmark = pytest.mark.integration

STATE = "/var/lib/hpc-parallelcluster"
CLUSTERS = os.path.join(STATE, "clusters")
LIVE = "hpc-cluster"
SLURMCTLD_PID = "/run/hpc-parallelcluster/slurmctld.pid"

# Names that reach a path outside the record folder, or are not ParallelCluster's, as a playbook may pass them.
BAD_NAMES = ["../../../../tmp/hpc-attack-x", "../../tmp/x", "hpc-cluster/../../../../tmp/hpc-attack-x",
             "/tmp/hpc-attack-x", "hpc\nattack", "hpc-\u0441luster", "1cluster", ""]

NAMES_PLAYBOOK = """
- name: Cluster names
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Delete a cluster by name
      hpc.parallelcluster.pcluster_cluster:
        name: "{{ item }}"
        state: absent
      loop: "{{ target_names }}"
      register: deleted
      ignore_errors: true
      when: "'delete' in actions"

    - name: Describe a cluster by name
      hpc.parallelcluster.pcluster_cluster_info:
        name: "{{ item }}"
      loop: "{{ target_names }}"
      register: described
      ignore_errors: true
      when: "'describe' in actions"

    - name: List the clusters
      hpc.parallelcluster.pcluster_cluster_info:
      register: listed
      when: "'list' in actions"
"""


def _names_playbook(tmp_path, names, actions=("delete", "describe")):
    book = tmp_path / "names.yml"
    book.write_text(NAMES_PLAYBOOK)
    extra = tmp_path / "names.json"
    extra.write_text(json.dumps({"target_names": names, "actions": list(actions)}))
    rc, data = playbook(str(book), "-e", "@%s" % extra)
    assert rc == 0, failed_tasks(data)
    return data


def _loop_results(data, task):
    return task_results(data, task)["localhost"]["results"]


def _fingerprint(path):
    info = os.lstat(path)
    content = open(path, "rb").read() if stat.S_ISREG(info.st_mode) else None
    return content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def _slurmctld_pid():
    with open(SLURMCTLD_PID) as handle:
        return int(handle.read().strip())


def _as_attacker_write(attacker, path, content):
    """Write ``content`` to ``path`` as the attacker (an argument list, no shell)."""
    return run(["python3", "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", path, content],
               user=attacker, check=False)


def test_record_folder_is_root_only_and_the_attacker_cannot_plant_there(cluster, attacker):
    for folder in (STATE, CLUSTERS):
        info = os.lstat(folder)
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == 0, folder
        assert not info.st_mode & 0o022, "%s is %o" % (folder, stat.S_IMODE(info.st_mode))
    before = sorted(os.listdir(CLUSTERS))
    live_before = _fingerprint(os.path.join(CLUSTERS, LIVE + ".json"))
    planted = os.path.join(CLUSTERS, "hpc-attacker.json")
    assert _as_attacker_write(attacker, planted, "{}").returncode != 0
    assert _as_attacker_write(attacker, os.path.join(CLUSTERS, LIVE + ".json"), "{}").returncode != 0
    assert run(["ln", "-s", "/etc/passwd", planted], user=attacker, check=False).returncode != 0
    assert run(["mv", os.path.join(CLUSTERS, LIVE + ".json"), "/tmp/stolen.json"], user=attacker,
               check=False).returncode != 0
    assert sorted(os.listdir(CLUSTERS)) == before
    assert _fingerprint(os.path.join(CLUSTERS, LIVE + ".json")) == live_before


def test_a_name_that_leaves_the_record_folder_is_refused_before_anything(cluster, attacker, tmp_path):
    """The attacker plants a record in /tmp naming a folder and its own account; the names that
    would reach it are refused, nothing is read, removed or stopped."""
    canary = "/var/tmp/hpc-attack-canary"
    planted = "/tmp/hpc-attack-x.json"
    os.makedirs(canary, exist_ok=True)
    with open(os.path.join(canary, "keep"), "w") as handle:
        handle.write("keep\n")
    record = {"clusterName": "../../../../tmp/hpc-attack-x", "clusterStatus": "CREATE_COMPLETE", "headNode": {},
              "clusterConfiguration": {"SharedStorage": [{"Name": "s", "MountDir": canary}]},
              "local": {"createdDirs": [canary], "createdUser": attacker}}
    try:
        assert _as_attacker_write(attacker, planted, json.dumps(record)).returncode == 0
        planted_before = _fingerprint(planted)
        live_before = _fingerprint(os.path.join(CLUSTERS, LIVE + ".json"))
        pid_before = _slurmctld_pid()

        data = _names_playbook(tmp_path, BAD_NAMES)

        for task in ("Delete a cluster by name", "Describe a cluster by name"):
            results = _loop_results(data, task)
            assert len(results) == len(BAD_NAMES)
            for name, result in zip(BAD_NAMES, results):
                assert result.get("failed") is True, (task, name, result)
                assert result["msg"].startswith("name: "), (task, name, result["msg"])
                assert "letters, digits and hyphens" in result["msg"], result["msg"]
                assert not result.get("changed")
        for result in _loop_results(data, "Delete a cluster by name"):
            assert "nothing was read or changed" in result["msg"]
        # Nothing outside the attacker's rights changed.
        assert _fingerprint(planted) == planted_before
        assert open(os.path.join(canary, "keep")).read() == "keep\n"
        pwd.getpwnam(attacker)
        assert _fingerprint(os.path.join(CLUSTERS, LIVE + ".json")) == live_before
        assert _slurmctld_pid() == pid_before
        run(["scontrol", "ping"])
    finally:
        for path in (planted, os.path.join(canary, "keep")):
            if os.path.lexists(path):
                os.unlink(path)
        if os.path.isdir(canary):
            os.rmdir(canary)


# name: file content (or ("link", target)) of the damaged records root plants beside the live one.
DAMAGED = {
    "hpc-truncated": '{"clusterName": "hpc-truncated", "clusterStatus": "CREATE_COMP',
    "hpc-empty": "",
    "hpc-list": "[]",
    "hpc-wrongtype": json.dumps({"clusterName": 7, "clusterStatus": "CREATE_COMPLETE", "headNode": {"state": "running"},
                                 "clusterConfiguration": {}}),
    "hpc-othername": json.dumps({"clusterName": LIVE, "clusterStatus": "CREATE_COMPLETE",
                                 "headNode": {"state": "running"}, "clusterConfiguration": {}}),
    "hpc-link": ("link", "/tmp/hpc-attack-link-target.json"),
}


@pytest.fixture
def damaged_records():
    """Damaged records beside the live one, planted by root (only root can write there); removed after."""
    planted = {}
    link_target = "/tmp/hpc-attack-link-target.json"
    with open(link_target, "w") as handle:
        handle.write(json.dumps({"clusterName": "hpc-link", "clusterStatus": "CREATE_COMPLETE",
                                 "headNode": {"state": "running"}, "clusterConfiguration": {}}))
    try:
        for name, content in DAMAGED.items():
            path = os.path.join(CLUSTERS, name + ".json")
            if isinstance(content, tuple):
                os.symlink(content[1], path)
            else:
                with open(path, "w") as handle:
                    handle.write(content)
            planted[name] = path
        yield planted
    finally:
        for path in list(planted.values()) + [link_target]:
            if os.path.lexists(path):
                os.unlink(path)


def test_damaged_records_are_skipped_with_warnings_and_stop_nothing(cluster, tmp_path, damaged_records):
    live_record = os.path.join(CLUSTERS, LIVE + ".json")

    # pcluster_cluster_info: the list goes on without them and names each; describing one names the fix.
    data = _names_playbook(tmp_path, ["hpc-truncated", "hpc-wrongtype"], actions=("describe", "list"))
    listed = task_results(data, "List the clusters")["localhost"]
    assert [c["clusterName"] for c in listed["clusters"]] == [LIVE]
    warnings = "\n".join(listed.get("warnings", []))
    for path in damaged_records.values():
        assert path in warnings, (path, warnings)
    for result, name in zip(_loop_results(data, "Describe a cluster by name"), ["hpc-truncated", "hpc-wrongtype"]):
        assert result.get("failed") is True
        path = damaged_records[name]
        assert "the cluster record %s is damaged" % path in result["msg"] and "remove or repair" in result["msg"]
        assert "Traceback" not in json.dumps(result)

    # The inventory lists the live head node and warns about each damaged file.
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", "inventories/local", "--list"],
                          cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    inventory = json.loads(proc.stdout)
    assert inventory["head_nodes"]["hosts"] == [LIVE + "-head"]
    stderr = " ".join(proc.stderr.split())
    for path in damaged_records.values():
        assert path in stderr, (path, stderr)

    # site.yml's re-run goes through (the inventory refresh and the create path both list clusters,
    # both in the cluster stage).
    rc, out = playbook("site.yml", *SITE_ARGS, "--tags", "cluster", json_output=False)
    assert rc == 0, out[-5000:]
    assert damaged_records["hpc-truncated"] in " ".join(out.split())
    run(["scontrol", "ping"])

    # Deleting a damaged record beside the live cluster removes that file only.
    live_before = _fingerprint(live_record)
    pid_before = _slurmctld_pid()
    data = _names_playbook(tmp_path, ["hpc-truncated", "hpc-link"], actions=("delete",))
    for result in _loop_results(data, "Delete a cluster by name"):
        assert result.get("changed") is True and not result.get("failed"), result
    # Warnings of loop items: on each item or gathered on the task, depending on the callback.
    deleted = task_results(data, "Delete a cluster by name")["localhost"]
    warnings = deleted.get("warnings", []) + [w for r in deleted["results"] for w in r.get("warnings", [])]
    for name in ("hpc-truncated", "hpc-link"):
        assert any(damaged_records[name] in w and "belong to cluster %s" % LIVE in w for w in warnings), warnings
    assert not os.path.lexists(damaged_records["hpc-truncated"])
    assert not os.path.lexists(damaged_records["hpc-link"])
    assert os.path.exists("/tmp/hpc-attack-link-target.json")
    assert _fingerprint(live_record)[1:] == live_before[1:]
    assert _slurmctld_pid() == pid_before
    run(["scontrol", "ping"])
