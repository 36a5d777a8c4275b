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
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

POWER_PLAN = "/opt/parallelcluster/local/power-plan.json"
BOOT_TIME_MARGIN = 1.2
STARTED = time.monotonic()


def _log(plan, message):
    """Append one line to the power log: Slurm swallows the programs' output."""
    line = "%s %s[%d] %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), os.path.basename(sys.argv[0]), os.getpid(), message)
    try:
        with open(plan["log_file"], "a") as handle:
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
    result = _run([plan["scontrol"], "show", "hostnames", hostlist], env=_slurm_env(plan))
    return [name for name in result.stdout.split() if name]


def _slurm_env(plan):
    env = dict(os.environ)
    env["SLURM_CONF"] = plan["slurm_conf"]
    return env


def _pidfile(plan, node):
    return plan["slurmd_pid_file"].replace("%n", node)


def _read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


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
    if _run(["ip", "link", "show", veth], check=False).returncode != 0:
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", node])
    _run(["ip", "link", "set", veth, "master", plan["bridge"], "up"])
    address = "%s/%d" % (info["addr"], plan["prefix_len"])
    if address not in _run(["ip", "-n", node, "-o", "addr", "show", "dev", "eth0"]).stdout:
        _run(["ip", "-n", node, "addr", "add", address, "dev", "eth0"])
    _run(["ip", "-n", node, "link", "set", "eth0", "up"])
    _run(["ip", "-n", node, "link", "set", "lo", "up"])


def resume_node(plan, node):
    """Boot one node: namespace, address registered with slurmctld, then slurmd."""
    if node not in plan["nodes"]:
        raise ValueError("node %s is not in the power plan %s" % (node, POWER_PLAN))
    if _alive(_read_pid(_pidfile(plan, node))):
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
    # slurmctld ignores a registration whose boot time (whole seconds, from slurmd's uptime) is
    # earlier than its power-up request ("Still waiting for boot"), and then waits ResumeTimeout.
    # Starting slurmd over a second after this program was called keeps the boot time later.
    time.sleep(max(0.0, STARTED + BOOT_TIME_MARGIN - time.monotonic()))
    # A node with its own network, host name and spool directory, as an EC2 instance would have.
    _run(["nsenter", "--net=%s" % _netns_path(node), "--", "unshare", "--uts", "--mount", "--propagation", "private",
          "--", sys.executable, os.path.abspath(__file__), "exec-slurmd", node], env=env)
    _log(plan, "resume %s: slurmd started at %s" % (node, plan["nodes"][node]["addr"]))


def exec_slurmd(plan, node):
    """Runs inside the node's namespaces: take the node's host name and spool directory, become its slurmd."""
    socket.sethostname(node)
    if plan.get("slurmd_spool_mount"):
        subprocess.run(["mount", "--bind", plan["slurmd_spool_dir"].replace("%n", node), plan["slurmd_spool_mount"]],
                       check=True)
    # -b: register as just booted, or slurmctld keeps waiting for the node to boot.
    os.execv(plan["slurmd"], [plan["slurmd"], "-b", "-N", node])


def suspend_node(plan, node):
    """Power a node down: stop its slurmd and whatever the namespace still runs, then remove it."""
    pid = _read_pid(_pidfile(plan, node))
    if _alive(pid):
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
    veth = _host_veth(plan, node) if node in plan["nodes"] else None
    if veth and _run(["ip", "link", "show", veth], check=False).returncode == 0:
        _run(["ip", "link", "del", veth], check=False)
    try:
        os.unlink(_pidfile(plan, node))
    except FileNotFoundError:
        pass
    _log(plan, "suspend %s: powered down" % node)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] not in ("resume", "suspend", "resume-fail", "exec-slurmd"):
        sys.stderr.write("usage: %s resume|suspend|resume-fail <hostlist>\n" % sys.argv[0])
        return 2
    action, hostlist = argv
    plan = load_plan()
    if action == "exec-slurmd":
        exec_slurmd(plan, hostlist)
        return 1
    failed = 0
    for node in expand_hostlist(plan, hostlist):
        try:
            if action == "resume":
                resume_node(plan, node)
            else:
                suspend_node(plan, node)
        except (OSError, ValueError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            _log(plan, "%s %s failed: %s %s" % (action, node, exc, detail.strip()))
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
