"""The slurm account (what slurmctld runs its power programs and prolog as) and a cluster user
cannot act as root through the power program or the head node's run and log directories: root
writes nothing through a link either of them placed, the power program acts only on the cluster's
own nodes and signals only their slurmd, and the slurm_rest role prints no database password."""

import os
import pwd
import re
import shutil
import stat
import subprocess
import time

import pytest

from helpers import ROOT, SITE_ARGS, failed_tasks, playbook, run, sinfo_nodes, wait_until

pytestmark = pytest.mark.integration

RUN = "/run/hpc-parallelcluster"
LOG = "/var/log/hpc-parallelcluster"
POWER = "/opt/parallelcluster/local/bin/pcluster-local-power"
WRAPPERS = "/opt/parallelcluster/local/bin"
SLURMDBD_CONF = "/opt/slurm/etc/slurmdbd.conf"
REST_INCLUDE = "/opt/slurm/etc/slurm_rest.conf"
SLURM = "slurm"
# Daemons site.yml's repair restarts, newest first: (PID file, program).
DAEMONS = (
    (RUN + "/slurmctld.pid", "/usr/sbin/slurmctld"),
    (RUN + "/slurmdbd.pid", "/usr/sbin/slurmdbd"),
    (RUN + "/mariadb/mariadb.pid", "/usr/sbin/mariadbd"),
    (RUN + "/munged.pid", "/usr/sbin/munged"),
)
# Where root (or a Slurm daemon before it drops to slurm) writes, creates or chowns a file.
ROOT_WRITES = (LOG + "/slurmctld.log", LOG + "/slurmdbd.log", LOG + "/mariadb.log", LOG + "/power.log",
               RUN + "/slurmctld.pid", RUN + "/slurmdbd.pid", RUN + "/munged.pid")


@pytest.fixture
def targets():
    """Root's files an attack would reach through a link: {link path: target path}."""
    directory = "/root/hpc-attack-17"
    os.makedirs(directory, mode=0o700, exist_ok=True)
    found = {}
    for index, link in enumerate(ROOT_WRITES):
        path = os.path.join(directory, "target-%d" % index)
        with open(path, "w") as handle:
            handle.write("root's file %d\n" % index)
        os.chmod(path, 0o600)
        found[link] = path
    yield found
    shutil.rmtree(directory, ignore_errors=True)


def _state(path):
    info = os.stat(path)
    with open(path) as handle:
        return handle.read(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def _powered_down_node():
    nodes = [name for name, (state, _partition) in sinfo_nodes().items() if state.endswith("~")]
    if not nodes:
        pytest.skip("no powered-down node to aim the power program at")
    return sorted(nodes)[-1]


def _as_slurm(args):
    return run(args, user=SLURM, check=False)


def _slurm_power(action, hostlist):
    """The power program exactly as slurmctld calls it: its wrapper, run as SlurmUser (sudo -n inside)."""
    return _as_slurm([os.path.join(WRAPPERS, "slurm_" + action.replace("-", "_")), hostlist])


def _stop(pidfile, program):
    run(["start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", "TERM/30/KILL/5",
         "--pidfile", pidfile, "--exec", program])


@pytest.fixture
def sleeper(attacker):
    """A process of the cluster user's own (setpriv execs it: its PID is the sleep's): nothing the
    power program does may signal it."""
    entry = pwd.getpwnam(attacker)
    proc = subprocess.Popen(["setpriv", "--reuid", str(entry.pw_uid), "--regid", str(entry.pw_gid), "--init-groups",
                             "sleep", "600"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_run_and_log_dirs_are_roots_alone(cluster, attacker):
    for directory in (RUN, LOG):
        info = os.lstat(directory)
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o755, directory
        for user in (SLURM, attacker):
            link = os.path.join(directory, "planted-by-%s" % user)
            proc = run(["ln", "-s", "/etc/shadow", link], user=user, check=False)
            assert proc.returncode != 0 and not os.path.lexists(link), "%s could plant a link in %s" % (user, directory)
            assert run(["rm", "-f", os.path.join(directory, "slurmctld.pid" if directory == RUN else "slurmctld.log")],
                       user=user, check=False).returncode != 0


def test_links_planted_before_are_not_written_through(cluster, targets):
    """The older layout gave both directories to slurm: it could have left links where root writes.
    Root's power log and site.yml's repair (which restarts every daemon) must not write through them."""
    before = {target: _state(target) for target in targets.values()}
    node = _powered_down_node()
    for pidfile, program in DAEMONS:
        _stop(pidfile, program)
    for directory in (RUN, LOG):
        os.chown(directory, *_slurm_ids())
    for link, target in targets.items():
        proc = _as_slurm(["ln", "-sfn", target, link])
        assert proc.returncode == 0, proc.stderr
    _slurm_power("suspend", node)
    rc, data = playbook("site.yml", *SITE_ARGS)
    assert rc == 0, failed_tasks(data)
    for target, state in before.items():
        assert _state(target) == state, "%s was written through a link" % target
    for link in targets:
        assert not os.path.islink(link), "%s is still a link" % link
    for directory in (RUN, LOG):
        info = os.lstat(directory)
        assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o755
    run(["scontrol", "ping"])


@pytest.mark.parametrize("action", ["suspend", "resume-fail", "resume"])
def test_power_program_refuses_a_node_outside_the_cluster(cluster, sleeper, action):
    namespace = "hpc-attack-ns"
    run(["ip", "netns", "add", namespace])
    try:
        inside = subprocess.Popen(["ip", "netns", "exec", namespace, "sleep", "600"])
        try:
            time.sleep(0.3)
            proc = _slurm_power(action, namespace)
            assert proc.returncode != 0
            assert os.path.exists("/run/netns/" + namespace), "the power program removed a foreign namespace"
            assert inside.poll() is None, "the power program killed a process of a foreign namespace"
            assert _alive(sleeper)
            refused = run(["tail", "-n", "5", LOG + "/power.log"]).stdout
            assert "%s %r refused" % (action, namespace) in refused and "not in the power plan" in refused
        finally:
            inside.kill()
            inside.wait()
    finally:
        run(["ip", "netns", "del", namespace], check=False)


@pytest.mark.parametrize("name", ["../../../../tmp/hpc-attack-victim", "compute-dy-compute-nodes-1/../../../../tmp/hpc-attack-victim",
                                  "-Mother", "compute-dy-compute-nodes-[1-2] x"])
def test_power_program_refuses_a_name_that_is_not_a_slurm_node_name(cluster, name):
    victim = "/tmp/hpc-attack-victim.pid"
    with open(victim, "w") as handle:
        handle.write("root's file\n")
    before = _state(victim)
    # What the older layout let slurm do first, so that the path resolves.
    _as_slurm(["mkdir", RUN + "/slurmd-.."])
    try:
        for action in ("suspend", "resume-fail"):
            proc = _as_slurm(["sudo", "-n", POWER, action, name])
            assert proc.returncode != 0
            assert os.path.exists(victim) and _state(victim) == before
            assert "refused" in proc.stderr, proc.stderr
    finally:
        os.unlink(victim)
        if os.path.isdir(RUN + "/slurmd-.."):
            os.rmdir(RUN + "/slurmd-..")


def test_suspend_signals_no_process_a_pid_file_names_but_the_nodes_slurmd(cluster, sleeper):
    node = _powered_down_node()
    pidfile = "%s/slurmd-%s.pid" % (RUN, node)
    assert not os.path.exists(pidfile)
    # slurm cannot write the node's PID file any more ...
    proc = _as_slurm(["sh", "-c", "echo %d > %s" % (sleeper, pidfile)])
    assert proc.returncode != 0 and not os.path.exists(pidfile)
    # ... and one that names another process (a reused PID, a file from before) is only a claim.
    with open(pidfile, "w") as handle:
        handle.write("%d\n" % sleeper)
    try:
        proc = _slurm_power("suspend", node)
        assert proc.returncode == 0, proc.stderr
        assert _alive(sleeper), "suspend signalled a process that is not the node's slurmd"
        wait_until(lambda: sinfo_nodes()[node][0].endswith("~"), 30, what="%s to stay powered down" % node)
    finally:
        if os.path.exists(pidfile):
            os.unlink(pidfile)


def test_slurm_rest_role_prints_no_database_password(cluster):
    """The role's edit of slurmdbd.conf (which holds StoragePass) shows nothing with --diff or -vvv,
    in check mode or not, and still reports that it changed the file. Where the role is not applied
    yet, only check mode runs: applying it here would change the cluster later tests expect."""
    with open(SLURMDBD_CONF) as handle:
        text = handle.read()
    password = re.search(r"^StoragePass=(.+)$", text, re.M).group(1).strip()
    assert len(password) >= 20
    applied = os.path.exists(REST_INCLUDE)
    if applied:
        # Without the role's lines the edit has something to change (and so something to diff).
        text = "".join(line for line in text.splitlines(True) if not line.startswith(("AuthAltTypes=", "AuthAltParameters=")))
        with open(SLURMDBD_CONF, "w") as handle:
            handle.write(text)
    role = os.path.join(ROOT, "tests", "integration", "playbooks", "slurm_rest_role.yml")
    task = "TASK [hpc.parallelcluster.slurm_rest : Add JWT authentication to slurmdbd.conf]"
    for args in [["--check", "--diff", "-vvv"]] + ([["--diff", "-vvv"]] if applied else []):
        rc, out = playbook(role, *args, json_output=False, timeout=900)
        assert password not in out, "StoragePass shown with %s" % " ".join(args)
        assert task in out, out[-5000:]
        section = out[out.index(task):].split("TASK [", 2)[1]
        assert "changed:" in section, section[:2000]
        assert rc == 0, out[-5000:]
        if "--check" in args:
            with open(SLURMDBD_CONF) as handle:
                assert handle.read() == text, "check mode changed slurmdbd.conf"
    if applied:
        with open(SLURMDBD_CONF) as handle:
            assert "AuthAltTypes=auth/jwt\n" in handle.read()
    info = os.stat(SLURMDBD_CONF)
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == _slurm_ids()[0]


def _slurm_ids():
    entry = pwd.getpwnam(SLURM)
    return entry.pw_uid, entry.pw_gid
