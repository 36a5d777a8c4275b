# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Booting an instance: systemd as PID 1 of its own mount, PID, UTS, IPC, network and cgroup
namespaces, on an overlay of its image (measured recipe: FIELD-NOTES, "Instances from a node image").

The launcher puts itself in a child folder of the cgroup2 hierarchy, then ``unshare`` starts the
stub below in new namespaces. The stub waits (reading its standard input, a pipe from the
launcher) until the launcher has moved the instance's veth in; then it mounts the overlay and
the API filesystems (a /dev of its own with only the harmless devices, /proc/sys and /sys
read-only), sets the host name and address, pivots into the overlay and execs systemd with
``container=`` set. Everything it mounts lives in the instance's mount namespace and goes with
it. The stub is a fixed text: every value reaches it as an argument. Capabilities that reach
past the instance (modules, raw I/O, the clock, device nodes) are dropped from its bounding set
before it starts.
"""

from __future__ import annotations

import os

CGROUP_PARENT = "hpc-parallelcluster"
CONTAINER = "hpc-parallelcluster"
SYSTEMD = "/usr/lib/systemd/systemd"
# Kept from the bounding set: what systemd and the stub need (systemd-nspawn's set, less what
# reaches the machine). Dropped: sys_module, sys_rawio, sys_time, sys_pacct, mknod, syslog,
# mac_admin, mac_override, wake_alarm, block_suspend, bpf, perfmon, checkpoint_restore.
DROPPED_CAPABILITIES = ("sys_module", "sys_rawio", "sys_time", "sys_pacct", "mknod", "syslog", "mac_admin",
                        "mac_override", "wake_alarm", "block_suspend", "bpf", "perfmon", "checkpoint_restore")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

STUB = r"""
set -eu
root=$1 lower=$2 upper=$3 work=$4 hostname=$5 address=$6 gateway=$7
go=
read -r go || true
[ "$go" = go ] || { echo "stub: the launcher gave up" >&2; exit 1; }
exec </dev/null
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$root/proc/sys"
if [ -e "$root/proc/sysrq-trigger" ]; then
  mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
  mount -o remount,bind,ro "$root/proc/sysrq-trigger"
fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid,nodev,size=20%% tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mount -t tmpfs -o mode=0755,nosuid,size=1m tmpfs "$root/dev"
for device in %(devices)s; do
  : > "$root/dev/$device"
  mount --bind "/dev/$device" "$root/dev/$device"
done
mkdir -m 0755 "$root/dev/pts"
mkdir -m 1777 "$root/dev/shm"
mkdir -m 0755 "$root/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$root/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue "$root/dev/mqueue"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
printf '%%s' "$hostname" > /proc/sys/kernel/hostname
ip link set dev lo up
ip address add "$address" dev eth0
ip link set dev eth0 up
[ -z "$gateway" ] || ip route add default via "$gateway"
cd "$root"
pivot_root . .
umount -l .
cd /
exec env -i container=%(container)s %(systemd)s
""" % {"devices": " ".join(DEVICES), "container": CONTAINER, "systemd": SYSTEMD}


def cgroup2_mount(mountinfo="/proc/self/mountinfo"):
    """Where the cgroup2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
    hybrid machine), or None."""
    with open(mountinfo, encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if " - " in line and line.split(" - ", 1)[1].split()[0] == "cgroup2":
                return fields[4]
    return None


def cgroup_folder(mount, instance_id):
    return os.path.join(mount, CGROUP_PARENT, instance_id)


def unshare_argv(instance_folder, lower, hostname, address, gateway):
    """The command that starts the stub in new namespaces; its standard input is the launcher's go signal."""
    return ["unshare", "--mount", "--pid", "--net", "--uts", "--ipc", "--cgroup", "--fork",
            "--propagation", "private", "--",
            "setpriv", "--bounding-set", ",".join("-" + cap for cap in DROPPED_CAPABILITIES), "--",
            "sh", "-c", STUB, "hpc-instance-stub",
            os.path.join(instance_folder, "root"), lower, os.path.join(instance_folder, "upper"),
            os.path.join(instance_folder, "work"), hostname, str(address), str(gateway or "")]


def start_time(pid, proc="/proc"):
    """The start time of process ``pid`` (clock ticks since boot; field 22 of its stat), or None
    when there is no such process. A PID with another start time is another process."""
    try:
        with open(os.path.join(proc, str(int(pid)), "stat"), encoding="utf-8", errors="replace") as handle:
            data = handle.read()
    except (OSError, ValueError):
        return None
    return int(data.rsplit(")", 1)[1].split()[19])


def namespace(pid, kind, proc="/proc"):
    """The namespace ``kind`` (pid, mnt, net...) of process ``pid``, like ``pid:[4026532000]``, or None."""
    try:
        return os.readlink(os.path.join(proc, str(int(pid)), "ns", kind))
    except (OSError, ValueError):
        return None


def children(pid, proc="/proc"):
    try:
        with open(os.path.join(proc, str(pid), "task", str(pid), "children"), encoding="utf-8") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def pids_in_namespace(pid_namespace, proc="/proc"):
    """Every PID (this machine's numbering) whose PID namespace is ``pid_namespace``."""
    found = []
    for entry in os.listdir(proc):
        if entry.isdigit() and namespace(entry, "pid", proc) == pid_namespace:
            found.append(int(entry))
    return sorted(found)
