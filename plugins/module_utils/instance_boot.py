# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Booting an instance: systemd as PID 1 of its own user, mount, PID, UTS, IPC, network and cgroup
namespaces, on an overlay of its image (measured recipe: FIELD-NOTES, "Instances from a node image").

The instance's root is no one on this machine: its user namespace maps ids 0..65535 to the image's
shifted ids (id_shift), so what it may do beyond its own namespaces is what an unprivileged
account may (it cannot write the machine's kernel settings, as a mapped root could through a proc
of its own). The launcher moves the first process into a cgroup folder delegated to those ids,
drops the capabilities that reach past the instance from its bounding set, gives it the
instance's ids and starts ``unshare``. Then, while the first stage below waits on its standard
input (a pipe from the launcher), the launcher writes the id maps, mounts the overlay in the
instance's mount namespace (where the instance's root may pivot into it, unlike a mount it
inherited) and moves the veth in. The second stage, root of the namespaces, mounts the API
filesystems (a /dev of its own with only harmless devices, /proc/sys read-only but for the
network's, /sys read-only), sets the host name and address, pivots into the overlay and execs
systemd with ``container=`` set. It starts in ``boot/`` of the instance folder and reaches the
overlay by a relative path: the folders above are root's alone. Everything mounted lives in the
instance's mount namespace and goes with it. The stages are fixed texts; values are arguments.
"""

from __future__ import annotations

import os
import re

_OVERLAY_PATH = re.compile(r"^/[A-Za-z0-9/._-]+$")
CGROUP_PARENT = "hpc-parallelcluster"
CONTAINER = "hpc-parallelcluster"
SYSTEMD = "/usr/lib/systemd/systemd"
ID_RANGE = 65536
# Dropped from the bounding set (systemd-nspawn's set keeps the others): what reaches the machine.
DROPPED_CAPABILITIES = ("sys_module", "sys_rawio", "sys_time", "sys_pacct", "mknod", "syslog", "mac_admin",
                        "mac_override", "wake_alarm", "block_suspend", "bpf", "perfmon", "checkpoint_restore")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# The overlay's mount point, relative to the folder the first process starts in.
MOUNT_POINT = "root"

# Waits for the launcher, then execs the second stage: a new exec is what gives the process its
# capabilities in the user namespace, once the launcher has mapped its ids.
STAGE1 = r"""
go=
read -r go || true
[ "$go" = go ] || { echo "stub: the launcher gave up" >&2; exit 1; }
exec </dev/null
stage2=$1
shift
exec sh -c "$stage2" hpc-instance-stage2 "$@"
"""

STAGE2 = r"""
set -eu
hostname=$1 address=$2 gateway=$3
cd -P %(mount_point)s
mount -t proc -o nosuid,nodev,noexec proc proc
mount --bind proc/sys proc/sys
mount -o remount,bind,ro,nosuid,nodev,noexec proc/sys
mount --bind proc/sys/net proc/sys/net
mount -o remount,bind,rw,nosuid,nodev,noexec proc/sys/net
if [ -e proc/sysrq-trigger ]; then
  mount --bind proc/sysrq-trigger proc/sysrq-trigger
  mount -o remount,bind,ro proc/sysrq-trigger
fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs sys
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 sys/fs/cgroup
mount -t tmpfs -o mode=0755,nosuid,nodev,size=20%% tmpfs run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs tmp
mount -t tmpfs -o mode=0755,nosuid,size=1m tmpfs dev
for device in %(devices)s; do
  : > "dev/$device"
  mount --bind "/dev/$device" "dev/$device"
done
mkdir -m 0755 dev/pts
mkdir -m 1777 dev/shm
mkdir -m 0755 dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs dev/shm
mount -t mqueue -o nosuid,nodev,noexec mqueue dev/mqueue
ln -s pts/ptmx dev/ptmx
ln -s /proc/self/fd dev/fd
ln -s /proc/self/fd/0 dev/stdin
ln -s /proc/self/fd/1 dev/stdout
ln -s /proc/self/fd/2 dev/stderr
hostname "$hostname"
ip link set dev lo up
ip address add "$address" dev eth0
ip link set dev eth0 up
[ -z "$gateway" ] || ip route add default via "$gateway"
pivot_root . .
umount -l .
cd /
exec env -i container=%(container)s %(systemd)s
""" % {"mount_point": MOUNT_POINT, "devices": " ".join(DEVICES), "container": CONTAINER, "systemd": SYSTEMD}


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


def unshare_argv(id_base, hostname, address, gateway):
    """The command that starts the instance's first process: the machine's root drops the
    capabilities that reach past the instance and becomes the instance's ids, then ``unshare``
    makes the namespaces and runs the first stage (started in the instance folder's ``boot/``)."""
    return ["setpriv", "--bounding-set", ",".join("-" + cap for cap in DROPPED_CAPABILITIES),
            "--reuid=%d" % id_base, "--regid=%d" % id_base, "--clear-groups", "--",
            "unshare", "--user", "--mount", "--pid", "--net", "--uts", "--ipc", "--cgroup", "--fork",
            "--propagation", "private", "--",
            "sh", "-c", STAGE1, "hpc-instance-stage1", STAGE2, hostname, str(address), str(gateway or "")]


def id_map(id_base):
    """The uid_map and gid_map line of an instance: its ids 0..65535 are the image's shifted ids."""
    return "0 %d %d\n" % (id_base, ID_RANGE)


def overlay_argv(pid, lower, upper, work, target):
    """Mount the instance's root in its own mount namespace, as this machine's root."""
    for path in (lower, upper, work):
        if not _OVERLAY_PATH.match(path):
            raise ValueError("%s cannot be an overlay layer (use folders named with letters, digits, '/', '.', "
                             "'_' and '-' only: ',' and ':' separate overlay options)" % path)
    return ["nsenter", "--target", str(pid), "--mount", "--", "mount", "-t", "overlay", "overlay", "-o",
            "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work), target]


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
