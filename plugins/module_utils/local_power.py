# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Power program of the local provider: what EC2 launching and terminating instances is to
ParallelCluster.

Slurm's power saving calls it (through ``sudo``, as SlurmUser) with a hostlist. ``resume`` gives
each node a network namespace with its own address and host name and starts its ``slurmd``
there; ``suspend`` (and ``resume-fail``) stop that slurmd and remove the namespace. The local
backend installs this file as an executable on the head node; it only needs the Python standard
library, ``iproute2``, ``util-linux`` and Slurm's commands, and reads the node plan the backend
wrote (node name -> address, bridge, Slurm paths) from ``POWER_PLAN``.

It runs as root for whoever can become SlurmUser, so it refuses a hostlist holding any name that
is not a node of the plan before doing anything, and signals a PID from a slurmd PID file only when
/proc shows that process is the slurmd started for that node, in that node's network namespace.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

POWER_PLAN = "/opt/parallelcluster/local/power-plan.json"
# Wall-clock time this program was started: Slurm asked for the resume at or before it.
STARTED = time.time()
# How far into the next wall-clock second slurmd is started (see boot_wait).
SECOND_MARGIN = 0.02
ACTIONS = ("resume", "suspend", "resume-fail")
# Slurm hostlists as ParallelCluster names its nodes: ``queue-dy-cr-[1-3],queue-st-cr-1``.
HOSTLIST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_,\[\]-]*$")
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


class RefusedError(ValueError):
    """A request this program does not act on: nothing was changed."""


def _log(plan, message):
    """Append one line to the power log: Slurm swallows the programs' output. Root never follows a
    symbolic link here: the log must not become a way to append to another file."""
    line = "%s %s[%d] %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), os.path.basename(sys.argv[0]), os.getpid(), message)
    try:
        fd = os.open(plan["log_file"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
        with os.fdopen(fd, "a") as handle:
            handle.write(line)
    except OSError:
        sys.stderr.write(line)


def _run(args, check=True, env=None):
    return subprocess.run(args, check=check, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def load_plan(path=POWER_PLAN):
    with open(path) as handle:
        return json.load(handle)


def expand_hostlist(plan, hostlist):
    """Slurm's own expansion of ``compute-dy-cr-[1-3]`` style lists."""
    if not HOSTLIST.match(hostlist):
        raise RefusedError("hostlist %r is not a Slurm hostlist of node names (letters, digits, '-', '_', "
                           "brackets and commas)" % hostlist)
    result = _run([plan["scontrol"], "show", "hostnames", hostlist], env=_slurm_env(plan))
    return [name for name in result.stdout.split() if name]


def check_nodes(plan, nodes):
    """Every node must be a Slurm node name of this cluster's power plan, or nothing is done:
    the program runs as root and must not touch a namespace, process or file of anything else."""
    bad = [node for node in nodes if not NODE_NAME.match(node)]
    if bad:
        raise RefusedError("node names %s are not Slurm node names (letters, digits, '-' and '_'); nothing was done"
                           % ", ".join(repr(node) for node in bad))
    foreign = [node for node in nodes if node not in plan["nodes"]]
    if foreign:
        raise RefusedError("nodes %s are not in the power plan %s; nothing was done" % (", ".join(foreign), POWER_PLAN))
    if not nodes:
        raise RefusedError("the hostlist names no node; nothing was done")


def _slurm_env(plan):
    env = dict(os.environ)
    env["SLURM_CONF"] = plan["slurm_conf"]
    return env


def _pidfile(plan, node):
    return plan["slurmd_pid_file"].replace("%n", node)


def _read_pid(path):
    """The PID a file names (0 when none); a symbolic link is not read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd) as handle:
            return int(handle.read(32).strip() or 0)
    except (OSError, ValueError):
        return 0


def process_exe(pid):
    """The program a process runs (an upgraded binary's path too), or None when it is gone."""
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None
    return exe[:-len(" (deleted)")] if exe.endswith(" (deleted)") else exe


def _is_node_slurmd(plan, node, pid):
    """A PID file is only a claim: the process must be slurmd, started for ``node``, in its namespace."""
    if pid <= 0 or process_exe(pid) != os.path.realpath(plan["slurmd"]):
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().decode("utf-8", "replace").split("\0")
        net = os.readlink("/proc/%d/ns/net" % pid)
        inode = os.stat(_netns_path(node)).st_ino
    except OSError:
        return False
    named = any(a == "-N" and b == node for a, b in zip(argv, argv[1:]))
    return named and net == "net:[%d]" % inode


def _alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _netns_path(node):
    return "/run/netns/%s" % node


def _host_veth(plan, node):
    # Interface names are limited to 15 characters; the index keeps them unique and stable.
    return "%s%d" % (plan["veth_prefix"], plan["nodes"][node]["index"])


def ensure_bridge(plan):
    """The head node's side of the compute network: a bridge holding the controller address."""
    bridge = plan["bridge"]
    if _run(["ip", "link", "show", bridge], check=False).returncode != 0:
        _run(["ip", "link", "add", bridge, "type", "bridge"])
    address = "%s/%d" % (plan["controller_addr"], plan["prefix_len"])
    if address not in _run(["ip", "-o", "addr", "show", "dev", bridge]).stdout:
        _run(["ip", "addr", "add", address, "dev", bridge])
    _run(["ip", "link", "set", bridge, "up"])


def _ensure_namespace(plan, node):
    info = plan["nodes"][node]
    veth = _host_veth(plan, node)
    if not os.path.exists(_netns_path(node)):
        _run(["ip", "netns", "add", node])
    exists = _run(["ip", "link", "show", veth], check=False).returncode == 0
    if exists and _run(["ip", "-n", node, "link", "show", "eth0"], check=False).returncode != 0:
        # A host end whose peer is not this node's eth0 is left from a node that is gone.
        _run(["ip", "link", "del", veth], check=False)
        exists = False
    if not exists:
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", node])
    _run(["ip", "link", "set", veth, "master", plan["bridge"], "up"])
    address = "%s/%d" % (info["addr"], plan["prefix_len"])
    if address not in _run(["ip", "-n", node, "-o", "addr", "show", "dev", "eth0"]).stdout:
        _run(["ip", "-n", node, "addr", "add", address, "dev", "eth0"])
    _run(["ip", "-n", node, "link", "set", "eth0", "up"])
    _run(["ip", "-n", node, "link", "set", "lo", "up"])


def boot_wait(started, now):
    """Seconds to wait before starting slurmd so that slurmctld takes it as booted after its request.

    slurmctld ignores a registration whose boot time is earlier than its power-up request ("Still
    waiting for boot") and then waits ResumeTimeout. It stamps the request in whole seconds before
    running this program, and takes the boot time as its own whole second minus slurmd's uptime.
    Slurm 22.05 counts that uptime in whole seconds of the kernel's boot clock, whose second
    boundaries are not the wall clock's, so it can be one second more than the wall clock moved.
    A slurmd started in a later wall-clock second than this program's start is therefore never
    taken as booted before the request: at most half a second on average, none once the node's
    set-up has crossed the second."""
    return max(0.0, int(started) + 1 + SECOND_MARGIN - now)


def resume_node(plan, node):
    """Boot one node: namespace, address registered with slurmctld, then slurmd."""
    check_nodes(plan, [node])
    if _is_node_slurmd(plan, node, _read_pid(_pidfile(plan, node))):
        _log(plan, "resume %s: slurmd already running" % node)
        return
    ensure_bridge(plan)
    _ensure_namespace(plan, node)
    for path in (plan["slurmd_spool_dir"], plan["tmpfs_dir"]):
        os.makedirs(path.replace("%n", node), mode=0o755, exist_ok=True)
    if plan.get("slurmd_spool_mount"):
        os.makedirs(plan["slurmd_spool_mount"], mode=0o755, exist_ok=True)
    tmpfs = plan["tmpfs_dir"].replace("%n", node)
    os.chmod(tmpfs, 0o1777)
    env = _slurm_env(plan)
    _run([plan["scontrol"], "update", "nodename=%s" % node, "nodeaddr=%s" % plan["nodes"][node]["addr"],
          "nodehostname=%s" % node], env=env)
    time.sleep(boot_wait(STARTED, time.time()))
    # A node with its own network, host name and spool directory, as an EC2 instance would have.
    _run(["nsenter", "--net=%s" % _netns_path(node), "--", "unshare", "--uts", "--mount", "--propagation", "private",
          "--", sys.executable, "-I", os.path.abspath(__file__), "exec-slurmd", node], env=env)
    _log(plan, "resume %s: slurmd started at %s" % (node, plan["nodes"][node]["addr"]))


def exec_slurmd(plan, node):
    """Runs inside the node's namespaces: take the node's host name and spool directory, become its slurmd."""
    check_nodes(plan, [node])
    socket.sethostname(node)
    if plan.get("slurmd_spool_mount"):
        subprocess.run(["mount", "--bind", plan["slurmd_spool_dir"].replace("%n", node), plan["slurmd_spool_mount"]],
                       check=True)
    # -b: register as just booted, or slurmctld keeps waiting for the node to boot.
    os.execv(plan["slurmd"], [plan["slurmd"], "-b", "-N", node])


def suspend_node(plan, node):
    """Power a node down: stop its slurmd and whatever the namespace still runs, then remove it.

    The PID file only says which process to look at: it is signalled only if it is that node's slurmd."""
    check_nodes(plan, [node])
    pid = _read_pid(_pidfile(plan, node))
    if _is_node_slurmd(plan, node, pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if os.path.exists(_netns_path(node)):
        leftovers = _run(["ip", "netns", "pids", node], check=False).stdout.split()
        for text in leftovers:
            try:
                os.kill(int(text), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _run(["ip", "netns", "del", node], check=False)
    veth = _host_veth(plan, node)
    if _run(["ip", "link", "show", veth], check=False).returncode == 0:
        _run(["ip", "link", "del", veth], check=False)
    try:
        os.unlink(_pidfile(plan, node))
    except FileNotFoundError:
        pass
    # The instance's metadata (a Spot notice) goes with it: the next instance of the node starts
    # without. The folder is under root's own run directory, where nobody else can put a link.
    if plan.get("instance_metadata"):
        shutil.rmtree(plan["instance_metadata"].replace("%n", node), ignore_errors=True)
    _log(plan, "suspend %s: powered down" % node)


def lock_nodes(plan, nodes):
    """Hold each node's power lock (sorted, so two runs cannot deadlock) until this program ends.

    Slurm may resume a node once SuspendTimeout has passed since it asked for the suspend: a resume
    waits here until the suspend run that holds the node is finished with it, rather than start a
    node the suspend run is about to remove. The lock files live in root's own run directory (no
    link is followed); a plan without ``power_lock`` (written by an older release) locks nothing."""
    if not plan.get("power_lock"):
        return []
    held = []
    for node in sorted(set(nodes)):
        path = plan["power_lock"].replace("%n", node)
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise RefusedError("cannot take the power lock of %s: %s" % (node, exc)) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.append(fd)
    return held


def _act(plan, action, node):
    """One node's resume or suspend; a failure is logged and counted, the other nodes go on."""
    try:
        if action == "resume":
            resume_node(plan, node)
        else:
            suspend_node(plan, node)
        return True
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        _log(plan, "%s %s failed: %s %s" % (action, node, exc, detail.strip()))
        return False


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] not in ACTIONS + ("exec-slurmd",):
        sys.stderr.write("usage: %s resume|suspend|resume-fail <hostlist>\n" % sys.argv[0])
        return 2
    action, hostlist = argv
    plan = load_plan()
    if action == "exec-slurmd":
        exec_slurmd(plan, hostlist)
        return 1
    try:
        nodes = expand_hostlist(plan, hostlist)
        check_nodes(plan, nodes)
        lock_nodes(plan, nodes)
    except (RefusedError, subprocess.CalledProcessError) as exc:
        message = "%s %r refused: %s" % (action, hostlist, (getattr(exc, "stderr", "") or str(exc)).strip())
        _log(plan, message)
        sys.stderr.write(message + "\n")
        return 2
    if action == "resume":
        done = [_act(plan, action, node) for node in nodes]
    else:
        # Stopping a slurmd takes a second or two: the nodes of one call stop side by side.
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
            done = list(pool.map(lambda node: _act(plan, action, node), nodes))
    return 0 if all(done) else 1


if __name__ == "__main__":
    raise SystemExit(main())
