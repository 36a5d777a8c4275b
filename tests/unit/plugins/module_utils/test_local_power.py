"""The power program runs as root on slurmctld's behalf: it acts only on nodes of its power plan,
signals only the slurmd its PID file names when /proc agrees, and follows no link it writes through."""

import os
import subprocess
import sys
import threading

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_power


@pytest.fixture
def plan(tmp_path):
    return {
        "nodes": {"q-dy-cr-1": {"index": 0, "addr": "10.253.0.2"}, "q-st-cr-1": {"index": 1, "addr": "10.253.0.3"}},
        "scontrol": "/usr/bin/scontrol", "slurm_conf": "/nonexistent/slurm.conf", "slurmd": "/usr/sbin/slurmd",
        "slurmd_pid_file": str(tmp_path / "slurmd-%n.pid"), "log_file": str(tmp_path / "power.log"),
        "veth_prefix": "hpcv", "bridge": "hpcbr-test", "prefix_len": 24,
    }


class FakeRun:
    """Stands in for the commands: scontrol expands a hostlist by splitting it on commas."""

    def __init__(self):
        self.calls = []

    def __call__(self, args, check=True, env=None):
        self.calls.append(args)
        out = "\n".join(args[3].split(",")) if args[1:3] == ["show", "hostnames"] else ""
        return subprocess.CompletedProcess(args, 1 if args[:3] == ["ip", "link", "show"] else 0, out, "")


@pytest.fixture
def fake_run(monkeypatch):
    fake = FakeRun()
    monkeypatch.setattr(local_power, "_run", fake)
    return fake


@pytest.mark.parametrize("names,word", [
    (["other-node"], "not in the power plan"),
    (["../x"], "not Slurm node names"),
    (["q-dy-cr-1", "q-dy-cr-1/../../etc"], "not Slurm node names"),
    ([], "names no node"),
])
def test_nodes_outside_the_plan_are_refused(plan, names, word):
    with pytest.raises(local_power.RefusedError, match=word):
        local_power.check_nodes(plan, names)


@pytest.mark.parametrize("hostlist", ["../x", "-Mcluster", "a b", "q-dy-cr-1;id", "/etc/passwd", ""])
def test_hostlists_that_are_not_slurm_names_are_refused_before_scontrol(plan, fake_run, hostlist):
    with pytest.raises(local_power.RefusedError, match="not a Slurm hostlist"):
        local_power.expand_hostlist(plan, hostlist)
    assert fake_run.calls == []


@pytest.mark.parametrize("action", ["suspend", "resume-fail", "resume"])
@pytest.mark.parametrize("hostlist", ["q-dy-cr-1,foreign-ns", "../x"])
def test_main_does_nothing_when_a_node_is_refused(monkeypatch, plan, fake_run, action, hostlist, capsys):
    acted = []
    monkeypatch.setattr(local_power, "load_plan", lambda: plan)
    monkeypatch.setattr(local_power, "suspend_node", lambda p, n: acted.append(n))
    monkeypatch.setattr(local_power, "resume_node", lambda p, n: acted.append(n))
    assert local_power.main([action, hostlist]) == 2
    assert acted == []
    assert "refused" in capsys.readouterr().err
    with open(plan["log_file"]) as handle:
        assert "refused" in handle.read()


def test_suspend_leaves_a_foreign_process_its_pid_file_names_alone(plan, fake_run, sleeper):
    with open(plan["slurmd_pid_file"].replace("%n", "q-dy-cr-1"), "w") as handle:
        handle.write("%d\n" % sleeper.pid)
    local_power.suspend_node(plan, "q-dy-cr-1")
    assert sleeper.poll() is None
    assert not os.path.exists(plan["slurmd_pid_file"].replace("%n", "q-dy-cr-1"))


def test_suspend_removes_the_instances_metadata_and_only_that_nodes(plan, fake_run, tmp_path):
    plan["instance_metadata"] = str(tmp_path / "instance-metadata" / "%n")
    for node in plan["nodes"]:
        notice = tmp_path / "instance-metadata" / node / "latest" / "meta-data" / "spot"
        notice.mkdir(parents=True)
        (notice / "instance-action").write_text('{"action": "terminate"}\n')
    local_power.suspend_node(plan, "q-dy-cr-1")
    assert sorted(os.listdir(tmp_path / "instance-metadata")) == ["q-st-cr-1"]
    local_power.suspend_node(plan, "q-dy-cr-1")


def test_a_process_is_a_nodes_slurmd_only_with_its_program_name_and_namespace(plan, sleeper):
    assert not local_power._is_node_slurmd(plan, "q-dy-cr-1", sleeper.pid)
    # The right program is not enough: the process must also be started for that node in its namespace.
    plan["slurmd"] = os.path.realpath(local_power.process_exe(sleeper.pid))
    assert not local_power._is_node_slurmd(plan, "q-dy-cr-1", sleeper.pid)
    assert not local_power._is_node_slurmd(plan, "q-dy-cr-1", 0)


def test_the_power_log_is_not_written_through_a_link(plan, tmp_path):
    target = tmp_path / "target"
    target.write_text("original\n")
    os.symlink(str(target), plan["log_file"])
    local_power._log(plan, "a line")
    assert target.read_text() == "original\n"


def test_a_pid_file_that_is_a_link_is_not_read(tmp_path):
    target = tmp_path / "target"
    target.write_text("%d\n" % os.getpid())
    os.symlink(str(target), str(tmp_path / "slurmd-q.pid"))
    assert local_power._read_pid(str(tmp_path / "slurmd-q.pid")) == 0
    assert local_power._read_pid(str(target)) == os.getpid()


def test_the_program_stands_alone():
    """It is installed as one file and run by python3 -I: only the standard library."""
    source = open(local_power.__file__).read()
    assert "ansible_collections" not in source
    proc = subprocess.run([sys.executable, "-I", local_power.__file__, "bogus", "x"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_a_host_interface_whose_peer_is_not_the_nodes_eth0_is_replaced(plan, monkeypatch):
    """An interface of the node's name left from a node that is gone is deleted, not reused."""
    calls = []

    def run(args, check=True, env=None):
        calls.append(args)
        stale = args[:3] == ["ip", "link", "show"] and len([c for c in calls if c[:2] == ["ip", "link"]]) == 1
        missing_eth0 = args[:5] == ["ip", "-n", "q-dy-cr-1", "link", "show"]
        rc = 0 if stale else 1 if (missing_eth0 or args[:3] == ["ip", "link", "show"]) else 0
        return subprocess.CompletedProcess(args, rc, "", "")

    monkeypatch.setattr(local_power, "_run", run)
    monkeypatch.setattr(local_power.os.path, "exists", lambda path: True)
    local_power._ensure_namespace(plan, "q-dy-cr-1")
    assert ["ip", "link", "del", "hpcv0"] in calls
    assert calls.index(["ip", "link", "del", "hpcv0"]) < calls.index(
        ["ip", "link", "add", "hpcv0", "type", "veth", "peer", "name", "eth0", "netns", "q-dy-cr-1"])


def test_a_resume_waits_until_the_suspend_holding_the_node_has_finished(monkeypatch, plan, fake_run, tmp_path):
    """Slurm may resume a node SuspendTimeout after asking for its suspend: the resume must not start
    a node the suspend run is still about to remove."""
    plan["power_lock"] = str(tmp_path / "locks" / "%n.lock")
    monkeypatch.setattr(local_power, "load_plan", lambda: plan)
    resumed = threading.Event()
    monkeypatch.setattr(local_power, "resume_node", lambda p, n: resumed.set())
    held = local_power.lock_nodes(plan, ["q-dy-cr-1"])  # as a suspend run holds it
    result = []
    worker = threading.Thread(target=lambda: result.append(local_power.main(["resume", "q-dy-cr-1"])))
    worker.start()
    assert not resumed.wait(1.0)
    for fd in held:
        os.close(fd)
    worker.join(10)
    assert resumed.is_set() and result == [0]
    assert oct(os.stat(plan["power_lock"].replace("%n", "q-dy-cr-1")).st_mode & 0o777) == "0o600"
    assert oct(os.stat(tmp_path / "locks").st_mode & 0o777) == "0o700"


def test_a_lock_file_that_is_a_link_is_refused_and_nothing_is_done(monkeypatch, plan, fake_run, tmp_path, capsys):
    plan["power_lock"] = str(tmp_path / "locks" / "%n.lock")
    (tmp_path / "locks").mkdir()
    target = tmp_path / "target"
    target.write_text("original\n")
    os.symlink(str(target), plan["power_lock"].replace("%n", "q-dy-cr-1"))
    monkeypatch.setattr(local_power, "load_plan", lambda: plan)
    acted = []
    monkeypatch.setattr(local_power, "suspend_node", lambda p, n: acted.append(n))
    assert local_power.main(["suspend", "q-dy-cr-1,q-st-cr-1"]) == 2
    assert acted == [] and target.read_text() == "original\n"
    assert "power lock" in capsys.readouterr().err


def test_the_nodes_of_one_suspend_stop_side_by_side(monkeypatch, plan, fake_run, tmp_path):
    plan["power_lock"] = str(tmp_path / "locks" / "%n.lock")
    monkeypatch.setattr(local_power, "load_plan", lambda: plan)
    # Each node's suspend waits for the other's: done one after the other, the barrier breaks.
    both = threading.Barrier(2, timeout=10)
    monkeypatch.setattr(local_power, "suspend_node", lambda p, n: both.wait())
    assert local_power.main(["suspend", "q-dy-cr-1,q-st-cr-1"]) == 0


@pytest.mark.parametrize("started", [1000.0, 1000.01, 1000.5, 1000.97, 1000.999])
@pytest.mark.parametrize("elapsed", [0.0, 0.1, 0.4, 0.99, 1.5])
def test_slurmd_starts_in_a_later_wall_clock_second_than_the_resume_request(started, elapsed):
    """slurmctld stamped the request in started's second or before: slurmd, started after the wait,
    is in a later second even when Slurm 22.05 counts a second more of uptime than passed, and the
    wait is never more than a second, nor any once the set-up has crossed into the next second."""
    now = started + elapsed
    wait = local_power.boot_wait(started, now)
    assert int(now + wait) >= int(started) + 1
    assert wait <= 1 + local_power.SECOND_MARGIN
    if int(now) > int(started) and now - int(now) >= local_power.SECOND_MARGIN:
        assert wait == 0
