"""A cluster user against the job_tools role: /shared and /fsx are writable by every user (mode
1777, as on a ParallelCluster head node), so an unprivileged user can put a link to a root-owned
folder, a folder of its own, or links among the scripts where the role writes. The next run of the
role by an administrator must refuse them, naming the path and the fix, and leave the target as it
was; once the user's paths are gone, a run converges and a second one changes nothing.

The role runs as site.yml runs it (root, the local inventory's head node), on folders of this test
beside the cluster's own (/shared/it-15-*, /fsx/it-15-*), so the cluster's /shared/jobs stays as
it is."""

import os
import shutil
import stat
import uuid

import pytest

from helpers import changed_tasks, emulator_clients, failed_tasks, playbook, run, task_results

pytestmark = pytest.mark.integration

OWNER = "ec2-user"
REFUSE = "Refuse links, other users' paths and folders where anyone may rename entries"
CHECK_PATHS = "Check the paths the role writes"
CHECK_OWNER = "Check the owner and the group of the job tools"
SCRIPTS = ("submit-hpc-job.sh", "monitor-jobs.sh", "data-transfer.sh", "checkpoint-run.sh")
PLAYBOOK = """- name: Job tools on the head node, as site.yml applies them
  hosts: head_nodes
  gather_facts: false
  roles:
    - role: hpc.parallelcluster.job_tools
"""


@pytest.fixture(scope="module")
def job_tools(tmp_path_factory, cluster):
    """A playbook with the job_tools role alone, and the cluster's bucket for data-transfer.sh."""
    path = tmp_path_factory.mktemp("it15") / "job_tools.yml"
    path.write_text(PLAYBOOK)
    (s3,) = emulator_clients("s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("hpc-data-")]
    assert len(buckets) == 1, buckets
    return str(path), buckets[0]


@pytest.fixture
def paths(job_tools):
    """This test's job directory and transfer directories, and a function that applies the role to
    them; every path is removed afterwards (a link itself, never what it points to)."""
    tag = uuid.uuid4().hex[:8]
    made = {"job_tools_dir": "/shared/it-15-%s-jobs" % tag,
            "job_tools_transfer_input_dir": "/fsx/it-15-%s-input/" % tag,
            "job_tools_transfer_output_dir": "/fsx/it-15-%s-output/" % tag,
            "via": "/shared/it-15-%s-via" % tag,
            "root_parent": "/var/tmp/it-15-%s-root" % tag}
    book, bucket = job_tools

    def apply(*extra, **variables):
        args = ["-e", "job_tools_bucket=" + bucket]
        for name in ("job_tools_dir", "job_tools_transfer_input_dir", "job_tools_transfer_output_dir"):
            args += ["-e", "%s=%s" % (name, variables.get(name, made[name]))]
        return playbook(book, *args, *extra, timeout=600)

    yield made, apply
    for path in made.values():
        path = path.rstrip("/")
        if os.path.islink(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)


@pytest.fixture
def target():
    """A root-owned folder with a root-only file: what the user's links point at."""
    path = "/var/tmp/hpc-attack-target-%s" % uuid.uuid4().hex[:8]
    os.mkdir(path, 0o755)
    with open(os.path.join(path, "secret"), "w") as handle:
        handle.write("root only\n")
    os.chmod(os.path.join(path, "secret"), 0o600)
    yield path
    shutil.rmtree(path)


def _snapshot(root):
    """Owner, group, mode and content of a folder and everything in it, without following links."""
    found = {}
    for path in [root] + sorted(os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files):
        info = os.lstat(path)
        content = None
        if stat.S_ISREG(info.st_mode):
            with open(path, "rb") as handle:
                content = handle.read()
        found[path] = (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), stat.S_IFMT(info.st_mode), content)
    return found


def _refusals(data):
    """The messages of the paths refused, and nothing else failed."""
    failures = failed_tasks(data)
    assert len(failures) == 1 and REFUSE in failures[0], failures
    results = next(iter(task_results(data, REFUSE).values()))["results"]
    messages = [item["msg"] for item in results if item.get("failed")]
    # Every other path passed its check: a message that could not be rendered is a failure too.
    assert not [m for m in messages if "Task failed" in m or "Error while" in m], messages
    return messages


def _assert_refused(rc, data, *expected):
    assert rc != 0
    assert changed_tasks(data) == []
    messages = _refusals(data)
    for text in expected:
        assert any(text in message for message in messages), (text, messages)
    return messages


def _owned_by_owner(path, kind=stat.S_ISDIR):
    info = os.lstat(path)
    owner = run(["id", "-u", OWNER]).stdout.strip()
    return kind(info.st_mode) and info.st_uid == int(owner) and stat.S_IMODE(info.st_mode) == 0o755


def _converges(apply, made):
    rc, data = apply()
    assert rc == 0, failed_tasks(data)
    for name in ("job_tools_dir", "job_tools_transfer_input_dir", "job_tools_transfer_output_dir"):
        assert _owned_by_owner(made[name].rstrip("/")), name
    for name in SCRIPTS:
        assert _owned_by_owner(os.path.join(made["job_tools_dir"], name), stat.S_ISREG), name
    rc, data = apply()
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []


@pytest.mark.parametrize("variable", ["job_tools_dir", "job_tools_transfer_input_dir", "job_tools_transfer_output_dir"])
def test_a_link_at_a_folder_is_refused(paths, target, attacker, variable):
    made, apply = paths
    link = made[variable].rstrip("/")
    before = _snapshot(target)
    run(["ln", "-s", target, link], user=attacker)

    for extra in (["--check"], []):
        rc, data = apply(*extra)
        assert _snapshot(target) == before
        _assert_refused(rc, data, "%s (%s) is a symbolic link to %s, owned by %s" % (link, variable, target, attacker),
                        "Remove the link (rm %s) and run again" % link)

    run(["rm", link], user=attacker)
    _converges(apply, made)
    assert _snapshot(target) == before


def test_a_link_on_the_way_to_the_job_directory_is_refused(paths, target, attacker):
    made, apply = paths
    before = _snapshot(target)
    run(["ln", "-s", target, made["via"]], user=attacker)
    rc, data = apply(job_tools_dir=made["via"] + "/jobs")
    assert _snapshot(target) == before
    _assert_refused(rc, data, "%s (on the way to job_tools_dir) is a symbolic link to %s" % (made["via"], target))
    assert not os.path.exists(os.path.join(target, "jobs"))

    run(["rm", made["via"]], user=attacker)
    _converges(apply, made)
    assert _snapshot(target) == before


def test_a_folder_of_another_user_with_links_among_the_scripts_is_refused(paths, target, attacker):
    made, apply = paths
    jobs = made["job_tools_dir"]
    before = _snapshot(target)
    run(["mkdir", "-m", "0777", jobs], user=attacker)
    run(["ln", "-s", target, os.path.join(jobs, "submit-hpc-job.sh")], user=attacker)
    run(["ln", "-s", os.path.join(target, "secret"), os.path.join(jobs, "monitor-jobs.sh")], user=attacker)

    rc, data = apply()
    assert _snapshot(target) == before
    _assert_refused(rc, data, "%s (job_tools_dir) is owned by %s, neither root nor %s" % (jobs, attacker, OWNER),
                    "%s/submit-hpc-job.sh (a script in job_tools_dir) is a symbolic link to %s" % (jobs, target),
                    "%s/monitor-jobs.sh (a script in job_tools_dir) is a symbolic link to %s/secret" % (jobs, target))
    info = os.lstat(jobs)
    assert info.st_uid == int(run(["id", "-u", attacker]).stdout) and stat.S_IMODE(info.st_mode) == 0o777

    run(["rm", "-r", jobs], user=attacker)
    _converges(apply, made)
    assert _snapshot(target) == before


def test_a_link_the_owner_puts_among_its_scripts_is_refused(paths, target):
    """The owner of the job directory is a cluster user too: its links reach no further than its own rights."""
    made, apply = paths
    rc, data = apply()
    assert rc == 0, failed_tasks(data)
    before = _snapshot(target)
    script = os.path.join(made["job_tools_dir"], "submit-hpc-job.sh")
    run(["ln", "-sfn", target, script], user=OWNER)

    rc, data = apply()
    assert _snapshot(target) == before
    _assert_refused(rc, data, "%s (a script in job_tools_dir) is a symbolic link to %s, owned by %s" % (script, target, OWNER))

    run(["rm", script], user=OWNER)
    _converges(apply, made)
    assert _snapshot(target) == before


def test_a_folder_anyone_may_rename_entries_in_is_refused(paths):
    made, apply = paths
    os.mkdir(made["root_parent"])
    os.chmod(made["root_parent"], 0o777)
    rc, data = apply(job_tools_dir=made["root_parent"] + "/jobs")
    _assert_refused(rc, data, "%s (on the way to job_tools_dir) is writable by other users (mode 0777) without the "
                    "sticky bit" % made["root_parent"], "chmod +t %s" % made["root_parent"])
    assert os.listdir(made["root_parent"]) == []


def test_a_folder_of_a_deleted_user_is_refused_naming_its_uid(paths):
    """A folder left by an account deleted since (a uid without a name, as a torn-down cluster's default
    user leaves under /fsx) is another user's: refused with the uid, not a template error."""
    made, apply = paths
    folder = made["job_tools_transfer_input_dir"].rstrip("/")
    uid = next(u for u in range(4242, 5242) if not _has_account(u))
    os.mkdir(folder, 0o755)
    os.chown(folder, uid, uid)
    rc, data = apply()
    messages = _assert_refused(rc, data, "%s (job_tools_transfer_input_dir) is owned by uid %d, neither root nor %s"
                               % (folder, uid, OWNER))
    assert len(messages) == 1, messages
    assert os.listdir(folder) == []
    os.rmdir(folder)
    _converges(apply, made)


def _has_account(uid):
    import pwd

    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def test_root_takes_over_and_makes_folders_no_other_user_can_reach(paths):
    """A folder root already has (as FSx's import makes) becomes the owner's; a folder missing in a
    root-only folder is made by root; both without a link followed."""
    made, apply = paths
    os.mkdir(made["job_tools_transfer_input_dir"], 0o700)
    os.mkdir(made["root_parent"], 0o755)
    jobs = made["root_parent"] + "/jobs"
    rc, data = apply(job_tools_dir=jobs)
    assert rc == 0, failed_tasks(data)
    by_root = next(iter(task_results(data, "Make or take over the folders as root").values()))["results"]
    assert sorted(item["item"]["path"] for item in by_root) == sorted([jobs, made["job_tools_transfer_input_dir"].rstrip("/")])
    for path in (jobs, made["job_tools_transfer_input_dir"].rstrip("/"), made["job_tools_transfer_output_dir"].rstrip("/")):
        assert _owned_by_owner(path), path
    assert os.stat(made["root_parent"]).st_uid == 0
    rc, data = apply(job_tools_dir=jobs)
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []


@pytest.mark.parametrize("value", ["shared/jobs", "/shared/../etc", "/", "/shared//jobs", "/shared/./jobs"])
def test_a_path_that_is_not_absolute_and_plain_is_refused(paths, value):
    _made, apply = paths
    rc, data = apply(job_tools_dir=value)
    assert rc != 0
    failures = failed_tasks(data)
    assert len(failures) == 1 and CHECK_PATHS in failures[0], failures
    results = next(iter(task_results(data, CHECK_PATHS).values()))["results"]
    messages = [item["msg"] for item in results if item.get("failed")]
    assert messages == ["job_tools_dir must be an absolute path without '.', '..' or '//' in it, and not /; it is "
                        "\"%s\"" % value], messages
    assert changed_tasks(data) == []


@pytest.mark.parametrize("extra, shown", [
    (["-e", "job_tools_owner=it-15-nobody-here"], "\"it-15-nobody-here\" and \"it-15-nobody-here\""),
    (["-e", "job_tools_group=root"], "\"%s\" and \"root\"" % OWNER),
], ids=["unknown-owner", "group-not-the-owners"])
def test_an_owner_or_group_the_role_cannot_write_as_is_refused(paths, extra, shown):
    made, apply = paths
    rc, data = apply(*extra)
    assert rc != 0
    failures = failed_tasks(data)
    assert len(failures) == 1 and CHECK_OWNER in failures[0], failures
    assert "job_tools_owner must be a user of the head node and job_tools_group one of its groups" in failures[0]
    assert shown in failures[0], failures
    assert not os.path.lexists(made["job_tools_dir"])


@pytest.mark.parametrize("planted", ["link", "folder"])
def test_the_smoke_test_refuses_a_planted_job_directory(cluster, attacker, target, planted):
    """smoke_test.yml writes its program and batch script under /shared too: a link or a folder of
    another user at its job directory is refused before anything is written, and the target stays."""
    smoke_dir = "/shared/it-15-smoke-%s" % uuid.uuid4().hex[:8]
    if planted == "link":
        run(["ln", "-s", target, smoke_dir], user=attacker)
    else:
        run(["mkdir", "-m", "0777", smoke_dir], user=attacker)
        run(["ln", "-s", os.path.join(target, "secret"), os.path.join(smoke_dir, "mpi_smoke_test.c")], user=attacker)
    before = _snapshot(target)
    try:
        rc, data = playbook("smoke_test.yml", "-e", "smoke_dir=" + smoke_dir, timeout=600)
        assert _snapshot(target) == before
        assert rc != 0
        failures = failed_tasks(data)
        assert len(failures) == 1 and "smoke_dir" in failures[0] and "remove it" in failures[0], failures
        assert changed_tasks(data) == []
    finally:
        if os.path.islink(smoke_dir):
            os.unlink(smoke_dir)
        else:
            shutil.rmtree(smoke_dir)
