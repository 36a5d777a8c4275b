# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local provider's EC2 instances: run, describe and terminate instances of a node image.

``run`` seeds the instance's writable layer the way EC2 and cloud-init would (host name, hosts
file, the key pair's public key in the OS user's authorized_keys), records the instance, starts
it (instance_boot) and plugs its veth into the bridge. ``terminate`` kills its PID 1 (which takes
every process of its PID namespace along, and with them its mounts and network namespace), then
removes its cgroup folder, its veth if still there, and its folder. Records are root's
(instance_store), so an instance is found again by any later process; a PID is only signalled
while it still has the start time recorded when it was started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from ansible_collections.hpc.parallelcluster.plugins.module_utils import command_runner
from ansible_collections.hpc.parallelcluster.plugins.module_utils import instance_boot as boot
from ansible_collections.hpc.parallelcluster.plugins.module_utils import instance_net as net
from ansible_collections.hpc.parallelcluster.plugins.module_utils import tree_files
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_store import InstanceStore
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_store import new_instance_id
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_recipe import check_image_id
from ansible_collections.hpc.parallelcluster.plugins.module_utils.waiter import WaitTimeout
from ansible_collections.hpc.parallelcluster.plugins.module_utils.waiter import wait_for

CONSOLE = "console.log"
# Enough for systemd's slices and services and for Slurm's job steps, not for a flood of folders.
CGROUP_BOUNDS = (("cgroup.max.descendants", "4096\n"), ("cgroup.max.depth", "32\n"))
_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
              "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


class InstanceError(RuntimeError):
    pass


def check_public_key(text):
    """The key as one authorized_keys line; InstanceError unless it is one OpenSSH public key."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    if len(lines) != 1 or lines[0].split()[0] not in _KEY_TYPES or len(lines[0].split()) < 2:
        raise InstanceError("public_key must be one OpenSSH public key line (ssh-ed25519 AAAA... name), "
                            "as in the key pair's .pub file")
    return lines[0].strip() + "\n"


def spawn(argv, cgroup, console, cwd):
    """Start ``argv`` in ``cwd`` and a session of its own, inside the cgroup folder ``cgroup``
    (moved there before it runs, so its cgroup namespace is rooted there), its output into
    ``console``. The instance outlives this process. Returns (Popen, pipe to its standard input)."""
    log = os.open(console, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    procs = os.path.join(cgroup, "cgroup.procs")

    def enter_cgroup():
        with open(procs, "w", encoding="ascii") as handle:
            handle.write("0\n")

    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=log, stderr=log, close_fds=True,
                                start_new_session=True, preexec_fn=enter_cgroup,  # pylint: disable=subprocess-popen-preexec-fn
                                env=command_runner.base_env())
    finally:
        os.close(log)
    return proc, proc.stdin


class Launcher:
    def __init__(self, images=None, store=None, runner=command_runner.run, spawner=spawn, proc="/proc",
                 cgroup_mount=None, sleep=time.sleep, clock=time.monotonic, kill=os.kill, rmdir=os.rmdir,
                 mkdir=os.mkdir):
        self.images = images or ImageCache()
        self.store = store or InstanceStore()
        self.runner, self.spawner, self.proc = runner, spawner, proc
        self.kill, self.rmdir, self.mkdir = kill, rmdir, mkdir
        self._cgroup_mount = cgroup_mount
        self.sleep, self.clock = sleep, clock
        self.children = {}

    # -- helpers -------------------------------------------------------------------------------
    @property
    def cgroup_mount(self):
        if self._cgroup_mount is None:
            self._cgroup_mount = boot.cgroup2_mount()
            if self._cgroup_mount is None:
                raise InstanceError("this machine has no cgroup2 hierarchy mounted; systemd in an instance needs one "
                                    "(mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified)")
        return self._cgroup_mount

    def run_cmd(self, argv, what):
        return command_runner.check(self.runner(argv), what)

    def wait(self, predicate, timeout, what):
        return wait_for(predicate, timeout, initial=0.05, maximum=0.5, what=what, sleep=self.sleep, clock=self.clock)

    def alive(self, record):
        """True while the process the record started still runs (same PID, same start time)."""
        pid, started = record.get("pid"), record.get("pid_start_time")
        return bool(pid) and started is not None and boot.start_time(pid, self.proc) == started

    def check_bridge(self, bridge, netns):
        result = self.runner(net.bridge_show_argv(bridge, netns))
        where = "network namespace %s" % netns if netns else "this machine's network namespace"
        if result.rc != 0:
            raise InstanceError("bridge %s does not exist in %s; create it first (ip link add %s type bridge)"
                                % (bridge, where, bridge))
        try:
            kind = json.loads(result.out)[0].get("linkinfo", {}).get("info_kind")
        except (ValueError, IndexError, AttributeError):
            kind = None
        if kind != "bridge":
            raise InstanceError("%s in %s is not a bridge (it is %s)" % (bridge, where, kind or "unknown"))

    # -- run -----------------------------------------------------------------------------------
    @staticmethod
    def new_record(instance_id, image_id, manifest, hostname, interface, gw, bridge, bridge_netns, tags):
        return {
            "instance_id": instance_id, "image_id": image_id, "state": "pending", "hostname": hostname,
            "address": str(interface), "private_ip_address": str(interface.ip), "gateway": str(gw) if gw else None,
            "bridge": bridge, "bridge_netns": bridge_netns, "host_link": net.host_link_name(instance_id),
            "os_user": manifest["os_user"], "slurm_version": manifest.get("slurm_version"),
            "id_base": manifest["id_base"],
            "tags": dict(tags or {}), "launch_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "pid": None, "pid_start_time": None, "launcher_pid": None, "pid_namespace": None,
        }

    def run(self, image_id, hostname, address, bridge, public_key, bridge_netns=None, gateway=None, tags=None,
            boot_timeout=30):
        """Start an instance; its record (state running) once systemd is PID 1."""
        check_image_id(image_id)
        net.check_hostname(hostname)
        interface, gw = net.check_address(address, gateway)
        net.check_link(bridge)
        bridge_netns = net.check_netns(bridge_netns)
        key_line = check_public_key(public_key)
        manifest = self.images.manifest(image_id)
        if not manifest:
            raise InstanceError("image %s is not in the image cache %s; build it first (hpc.parallelcluster.local_image)"
                                % (image_id, self.images.root))
        if not isinstance(manifest.get("id_base"), int) or manifest["id_base"] < boot.ID_RANGE:
            raise InstanceError("image %s was built without shifted ids; remove it and build it again "
                                "(hpc.parallelcluster.local_image state=absent, then present)" % image_id)
        self.check_bridge(bridge, bridge_netns)
        with self.store.lock():
            for other in self.store.records():
                if other.get("bridge_netns") == bridge_netns and other.get("bridge") == bridge and \
                        other.get("address", "").split("/")[0] == str(interface.ip):
                    raise InstanceError("address %s is already used by instance %s on bridge %s"
                                        % (interface.ip, other["instance_id"], bridge))
            instance_id = new_instance_id()
            folder = self.store.create(instance_id)
            record = self.new_record(instance_id, image_id, manifest, hostname, interface, gw, bridge, bridge_netns,
                                     tags)
            self.store.save(record)
        try:
            self.seed(folder, manifest, self.images.rootfs(image_id), hostname, interface, key_line)
            self.start(record, folder, self.images.rootfs(image_id), interface, gw, boot_timeout)
        except BaseException as exc:
            console = self.console_tail(instance_id)
            try:
                self.terminate(instance_id)
            except Exception:  # pylint: disable=broad-except
                pass
            if isinstance(exc, (InstanceError, command_runner.CommandError, OSError, WaitTimeout)):
                raise InstanceError("instance %s did not start: %s%s" % (instance_id, exc,
                                                                         ("\nconsole:\n" + console) if console else ""))
            raise
        return record

    def seed(self, folder, manifest, lower, hostname, interface, key_line):
        """What cloud-init writes at first boot on EC2, put in the fresh layer before boot, owned
        by the instance's ids (the image's, shifted)."""
        upper = os.path.join(folder, "upper")
        user = manifest["os_user"]
        base = manifest["id_base"]
        uid = base + manifest.get("os_user_uid", 1000)
        os.chown(upper, base, base)
        tree_files.write_file(upper, "/etc/hostname", hostname + "\n", 0o644, base, base, like=lower)
        tree_files.write_file(upper, "/etc/hosts", "127.0.0.1\tlocalhost\n%s\t%s\n::1\tlocalhost ip6-localhost\n"
                              % (interface.ip, hostname), 0o644, base, base, like=lower)
        home = "/home/%s" % user
        tree_files.make_dir(upper, home + "/.ssh", 0o700, uid, uid, like=lower)
        tree_files.write_file(upper, home + "/.ssh/authorized_keys", key_line, 0o600, uid, uid)

    def start(self, record, folder, lower, interface, gw, boot_timeout):
        instance_id = record["instance_id"]
        parent = os.path.join(self.cgroup_mount, boot.CGROUP_PARENT)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        cgroup = boot.cgroup_folder(self.cgroup_mount, instance_id)
        self.mkdir(cgroup, 0o755)
        # Bounds the instance cannot lift (these files stay root's), then the folder is delegated
        # to the instance's root, as systemd-nspawn delegates one to a container.
        for name, value in CGROUP_BOUNDS:
            with open(os.path.join(cgroup, name), "w", encoding="ascii") as handle:
                handle.write(value)
        for name in ("", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"):
            if os.path.exists(os.path.join(cgroup, name)):
                os.chown(os.path.join(cgroup, name), record["id_base"], record["id_base"])
        argv = boot.unshare_argv(record["id_base"], record["hostname"], interface, gw)
        proc, go = self.spawner(argv, cgroup, os.path.join(folder, CONSOLE), os.path.join(folder, "boot"))
        self.children[instance_id] = proc
        try:
            pid = self.wait(lambda: (bool(boot.children(proc.pid, self.proc)), boot.children(proc.pid, self.proc)),
                            5, "the instance's first process")[0]
            record.update(pid=pid, pid_start_time=boot.start_time(pid, self.proc), launcher_pid=proc.pid,
                          launcher_start_time=boot.start_time(proc.pid, self.proc),
                          pid_namespace=boot.namespace(pid, "pid", self.proc))
            self.store.save(record)
            for name in ("uid_map", "gid_map"):
                with open(os.path.join(self.proc, str(pid), name), "w", encoding="ascii") as handle:
                    handle.write(boot.id_map(record["id_base"]))
            self.run_cmd(boot.overlay_argv(pid, lower, os.path.join(folder, "upper"), os.path.join(folder, "work"),
                                           os.path.join(folder, "boot", boot.MOUNT_POINT)), "mounting the overlay")
            self.run_cmd(net.veth_add_argv(record["host_link"], pid, record["bridge_netns"]), "creating the veth")
            self.run_cmd(net.veth_attach_argv(record["host_link"], record["bridge"], record["bridge_netns"]),
                         "attaching the veth to bridge %s" % record["bridge"])
            go.write(b"go\n")
        finally:
            try:
                go.close()
            except OSError:
                pass
        self.wait(lambda: self.comm(pid) == "systemd" or not self.alive(record), boot_timeout, "systemd to start")
        if not self.alive(record):
            raise InstanceError("its first process exited before systemd started")
        record["state"] = "running"
        self.store.save(record)

    def comm(self, pid):
        try:
            with open(os.path.join(self.proc, str(pid), "comm"), encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError:
            return None

    def console_tail(self, instance_id, lines=20):
        try:
            path = os.path.join(self.store.folder(instance_id), CONSOLE)
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as handle:
                return b"\n".join(handle.read()[-16384:].splitlines()[-lines:]).decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    # -- describe ------------------------------------------------------------------------------
    def describe(self, instance_ids=None):
        """Records of the instances (all, or those named), each with its current ``state``:
        pending while it is being started, running while its PID 1 lives, stopped when that died
        (terminate removes it)."""
        records = [self.store.load(i) for i in instance_ids] if instance_ids else self.store.records()
        for record in records:
            starting = record.get("state") == "pending" and record.get("pid") is None
            if not starting and not self.alive(record):
                record["state"] = "stopped"
        return records

    def in_instance(self, record, argv):
        """``argv`` run inside the running instance (all its namespaces, its root), as its root."""
        return self.runner(["nsenter", "--target", str(record["pid"]), "--user", "--mount", "--uts", "--ipc", "--net",
                            "--pid", "--cgroup", "--root", "--wd"] + list(argv))

    def system_state(self, record):
        """systemd's view of the instance: ``systemctl is-system-running`` and the failed units."""
        state = self.in_instance(record, ["systemctl", "is-system-running"]).out.strip()
        failed = self.in_instance(record, ["systemctl", "list-units", "--failed", "--plain", "--no-legend",
                                           "--no-pager"]).out
        return state, [line.split()[0] for line in failed.splitlines() if line.strip()]

    def wait_ready(self, instance_id, timeout=120):
        """(state, failed units) once systemd has finished booting (running or degraded)."""
        record = self.store.load(instance_id)

        def ready():
            if not self.alive(record):
                raise InstanceError("instance %s stopped while booting:\n%s" % (instance_id, self.console_tail(instance_id)))
            state, failed = self.system_state(record)
            return state in ("running", "degraded"), (state, failed)

        try:
            return self.wait(ready, timeout, "instance %s to finish booting" % instance_id)
        except WaitTimeout as exc:
            state, failed = exc.last or ("unknown", [])
            raise InstanceError("%s; systemd says %r, failed units: %s" % (exc, state, ", ".join(failed) or "none"))

    # -- terminate -----------------------------------------------------------------------------
    def terminate(self, instance_id, timeout=20):
        """Stop the instance and remove all it had; what was done, by step."""
        record = self.store.load(instance_id)
        done = {"instance_id": instance_id, "previous_state": "running" if self.alive(record) else "stopped"}
        if self.alive(record):
            self.kill(record["pid"], signal.SIGKILL)
            done["killed"] = record["pid"]
        namespace = record.get("pid_namespace")
        if namespace:
            self.wait(lambda: not boot.pids_in_namespace(namespace, self.proc), timeout,
                      "the processes of instance %s to end" % instance_id)
        child = self.children.pop(instance_id, None)
        if child is not None:
            child.wait(timeout=timeout)
        done["cgroup_removed"] = self.remove_cgroup(instance_id, timeout)
        if self.runner(net.link_show_argv(record["host_link"], record.get("bridge_netns"))).rc == 0:
            self.run_cmd(net.link_delete_argv(record["host_link"], record.get("bridge_netns")), "removing the veth")
            done["veth_removed"] = record["host_link"]
        done["folder_removed"] = self.store.remove(instance_id)
        return done

    def remove_cgroup(self, instance_id, timeout):
        """Remove the instance's cgroup folder, its sub-folders first, once no process is left in it."""
        top = boot.cgroup_folder(self.cgroup_mount, instance_id)
        if not os.path.isdir(top):
            return False

        def empty():
            with open(os.path.join(top, "cgroup.events"), encoding="ascii") as handle:
                return "populated 0" in handle.read()

        self.wait(empty, timeout, "the cgroup of instance %s to empty" % instance_id)
        for folder in sorted((walked[0] for walked in os.walk(top)), key=lambda f: -f.count("/")):
            self.rmdir(folder)
        try:
            self.rmdir(os.path.dirname(top))
        except OSError:
            pass
        return True
