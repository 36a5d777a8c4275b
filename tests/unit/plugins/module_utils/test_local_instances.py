"""The instance launcher on fakes (runner, process starter, /proc, cgroup folder): what it writes into
a new instance's layer, the commands it runs with their arguments, what it records, and that a
terminate removes everything and signals only the process it started."""

import io
import json
import os
import stat

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import command_runner
from ansible_collections.hpc.parallelcluster.plugins.module_utils import instance_boot as boot
from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_instances as li
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_store import InstanceStore
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache
from ansible_collections.hpc.parallelcluster.plugins.module_utils.root_folders import write_json

IMAGE = "ami-0123456789abcdef0"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnu0e2qY7 user@laptop"
UNSHARE_PID, INIT_PID, START = 500, 501, 777
BASE = 0x70000000


class World:
    """A fake machine: /proc, a cgroup2 mount, processes started by the fake spawner."""

    def __init__(self, base):
        self.proc = base / "proc"
        self.cgroup = base / "cgroup"
        self.proc.mkdir()
        self.cgroup.mkdir()
        self.calls, self.spawned, self.killed = [], [], []
        self.links = set()
        self.bridge_kind = "bridge"
        self.init_comm = "systemd"

    def process(self, pid, comm, start, children=()):
        folder = self.proc / str(pid)
        (folder / "task" / str(pid)).mkdir(parents=True)
        (folder / "ns").mkdir()
        (folder / "stat").write_text("%d (%s) S " % (pid, comm) + "0 " * 18 + "%d 0 0\n" % start)
        (folder / "comm").write_text(comm + "\n")
        (folder / "task" / str(pid) / "children").write_text(" ".join(map(str, children)))
        os.symlink("pid:[4026532999]" if pid == INIT_PID else "pid:[4026531836]", str(folder / "ns" / "pid"))

    def die(self, pid):
        import shutil
        shutil.rmtree(self.proc / str(pid), ignore_errors=True)

    def runner(self, argv, env=None, on_line=None):
        self.calls.append(list(argv))
        args = argv[3:] if argv[1:2] == ["-n"] else argv[1:]
        if args[:5] == ["-j", "-d", "link", "show", "dev"]:
            if self.bridge_kind is None:
                return command_runner.Result(argv, 1, err="Device does not exist")
            return command_runner.Result(argv, 0, out=json.dumps([{"linkinfo": {"info_kind": self.bridge_kind}}]))
        if args[:2] == ["link", "add"]:
            self.links.add(args[2])
        if args[:3] == ["-j", "link", "show"]:
            return command_runner.Result(argv, 0 if args[-1] in self.links else 1)
        if args[:2] == ["link", "delete"]:
            self.links.discard(args[-1])
        return command_runner.Result(argv, 0)

    def spawner(self, argv, cgroup, console, cwd):
        self.spawned.append((list(argv), cgroup, console, cwd))
        self.process(UNSHARE_PID, "unshare", START - 1, children=[INIT_PID])
        assert os.path.exists(os.path.join(cgroup, "cgroup.procs"))
        self.process(INIT_PID, self.init_comm, START)
        go = io.BytesIO()
        go.close = lambda: None
        self.go = go
        proc = type("Proc", (), {"pid": UNSHARE_PID, "wait": lambda self, timeout=None: 0})()
        return proc, go

    def kill(self, pid, sig):
        self.killed.append((pid, sig))
        self.die(pid)
        self.die(UNSHARE_PID)

    def mkdir(self, path, mode):
        os.mkdir(path, mode)
        for name in ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.events",
                     "cgroup.max.descendants", "cgroup.max.depth"):
            with open(os.path.join(path, name), "w") as handle:
                handle.write("populated 0\n" if name == "cgroup.events" else "")

    def rmdir(self, path):
        for entry in os.listdir(path):
            if entry.startswith("cgroup."):
                os.unlink(os.path.join(path, entry))
        os.rmdir(path)


@pytest.fixture
def world(tmp_path):
    os.chmod(tmp_path, 0o755)
    images = ImageCache(str(tmp_path / "images"), trusted=str(tmp_path))
    images.ensure_root()
    image = tmp_path / "images" / IMAGE
    (image / "rootfs" / "etc").mkdir(parents=True)
    (image / "rootfs" / "home" / "ec2-user").mkdir(parents=True)
    for path in ("rootfs", "rootfs/etc", "rootfs/home"):
        os.chown(image / path, BASE, BASE)
    os.chown(image / "rootfs" / "home" / "ec2-user", BASE + 1000, BASE + 1000)
    os.chmod(image / "rootfs" / "home" / "ec2-user", 0o700)
    write_json(str(image), "manifest.json", {"image_id": IMAGE, "os_user": "ec2-user", "os_user_uid": 1000,
                                             "slurm_version": "24.11.5", "id_base": BASE})
    world = World(tmp_path)
    world.launcher = li.Launcher(images, InstanceStore(str(tmp_path / "instances"), trusted=str(tmp_path)),
                                 runner=world.runner, spawner=world.spawner, proc=str(world.proc),
                                 cgroup_mount=str(world.cgroup), sleep=lambda s: None, kill=world.kill,
                                 rmdir=world.rmdir, mkdir=world.mkdir)
    world.store = world.launcher.store
    return world


def run(world, **extra):
    options = dict(image_id=IMAGE, hostname="node1", address="10.77.0.11/24", bridge="hpcw-br0", public_key=KEY,
                   bridge_netns="hpcw-img", gateway="10.77.0.1")
    options.update(extra)
    return world.launcher.run(**options)


def test_run_records_and_starts(world):
    record = run(world)
    iid = record["instance_id"]
    assert record["state"] == "running" and record["pid"] == INIT_PID and record["pid_start_time"] == START
    assert record["pid_namespace"] == "pid:[4026532999]" and record["os_user"] == "ec2-user"
    assert world.store.load(iid) == record
    folder = world.store.folder(iid)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(folder, "record.json")).st_mode) == 0o600
    # The first process: the instance's ids, fewer capabilities, new namespaces, in its own cgroup folder.
    argv, cgroup, console, cwd = world.spawned[0]
    assert argv[0] == "setpriv" and "-sys_module" in argv[argv.index("--bounding-set") + 1]
    assert ["--reuid=%d" % BASE, "--regid=%d" % BASE, "--clear-groups"] == argv[3:6]
    unshare = argv[argv.index("unshare"):]
    assert unshare[:10] == ["unshare", "--user", "--mount", "--pid", "--net", "--uts", "--ipc", "--cgroup", "--fork",
                            "--propagation"]
    assert argv[-3:] == ["node1", "10.77.0.11/24", "10.77.0.1"]
    assert cgroup == os.path.join(str(world.cgroup), "hpc-parallelcluster", iid)
    assert os.stat(cgroup).st_uid == BASE and os.stat(os.path.join(cgroup, "cgroup.procs")).st_uid == BASE
    assert open(os.path.join(cgroup, "cgroup.max.descendants")).read() == "4096\n"
    assert os.stat(os.path.join(cgroup, "cgroup.max.descendants")).st_uid == 0
    assert console == os.path.join(folder, "console.log") and cwd == os.path.join(folder, "boot")
    # Its ids are mapped, its root is mounted in its mount namespace by this machine's root.
    assert open(str(world.proc / str(INIT_PID) / "uid_map")).read() == "0 %d 65536\n" % BASE
    assert open(str(world.proc / str(INIT_PID) / "gid_map")).read() == "0 %d 65536\n" % BASE
    assert ["nsenter", "--target", str(INIT_PID), "--mount", "--", "mount", "-t", "overlay", "overlay", "-o",
            "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (world.launcher.images.rootfs(IMAGE), folder, folder),
            os.path.join(folder, "boot", "root")] in world.calls
    assert record["id_base"] == BASE
    # The veth goes into the new network namespace, its other end into the bridge, then the go signal.
    link = record["host_link"]
    assert ["ip", "-n", "hpcw-img", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns",
            str(INIT_PID)] in world.calls
    assert ["ip", "-n", "hpcw-img", "link", "set", "dev", link, "master", "hpcw-br0", "up"] in world.calls
    assert world.go.getvalue() == b"go\n"


def test_run_seeds_what_cloud_init_would(world):
    record = run(world)
    upper = os.path.join(world.store.folder(record["instance_id"]), "upper")
    assert open(os.path.join(upper, "etc/hostname")).read() == "node1\n"
    assert "10.77.0.11\tnode1\n" in open(os.path.join(upper, "etc/hosts")).read()
    keys = os.path.join(upper, "home/ec2-user/.ssh/authorized_keys")
    assert open(keys).read() == KEY + "\n"
    info = os.stat(keys)
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o600, BASE + 1000, BASE + 1000)
    home = os.stat(os.path.join(upper, "home/ec2-user"))
    assert (stat.S_IMODE(home.st_mode), home.st_uid) == (0o700, BASE + 1000)
    assert os.stat(upper).st_uid == BASE and os.stat(os.path.join(upper, "etc/hostname")).st_uid == BASE
    assert stat.S_IMODE(os.stat(os.path.join(upper, "home/ec2-user/.ssh")).st_mode) == 0o700


def test_terminate_removes_everything(world):
    record = run(world)
    iid = record["instance_id"]
    done = world.launcher.terminate(iid)
    assert world.killed == [(INIT_PID, 9)]
    assert done["cgroup_removed"] and done["folder_removed"]
    assert not os.path.exists(world.store.folder(iid))
    assert os.listdir(str(world.cgroup)) == []
    assert record["host_link"] not in world.links
    assert world.launcher.describe() == []


def test_a_reused_pid_is_never_signalled(world):
    record = run(world)
    world.die(INIT_PID)
    world.process(INIT_PID, "bash", START + 5)
    world.launcher.describe()
    assert world.launcher.describe([record["instance_id"]])[0]["state"] == "stopped"
    record["pid_namespace"] = None
    world.store.save(record)
    world.launcher.terminate(record["instance_id"])
    assert world.killed == []


def test_instances_are_found_by_a_new_launcher(world):
    record = run(world)
    again = li.Launcher(world.launcher.images, InstanceStore(world.store.root, trusted=world.store.trusted),
                        runner=world.runner, proc=str(world.proc), cgroup_mount=str(world.cgroup))
    assert [r["instance_id"] for r in again.describe()] == [record["instance_id"]]
    assert again.describe()[0]["state"] == "running"


def test_missing_bridge_leaves_nothing(world):
    world.bridge_kind = None
    with pytest.raises(li.InstanceError, match="bridge hpcw-br0 does not exist in network namespace hpcw-img"):
        run(world)
    assert world.store.ids() == [] and world.spawned == []


def test_not_a_bridge(world):
    world.bridge_kind = "veth"
    with pytest.raises(li.InstanceError, match="not a bridge"):
        run(world)


def test_stub_that_dies_is_cleaned_up(world):
    world.init_comm = "sh"
    original = world.spawner

    def dying_spawner(argv, cgroup, console, cwd):
        proc, go = original(argv, cgroup, console, cwd)
        with open(console, "w") as handle:
            handle.write("mount: no such file\n")
        world.die(INIT_PID)
        return proc, go

    world.launcher.spawner = dying_spawner
    with pytest.raises(li.InstanceError) as caught:
        run(world)
    assert "did not start" in str(caught.value) and "mount: no such file" in str(caught.value)
    assert world.store.ids() == [] and os.listdir(str(world.cgroup)) == []
    assert world.links == set()


def test_address_in_use_is_refused(world):
    run(world)
    with pytest.raises(li.InstanceError, match="already used"):
        run(world, hostname="node2")


@pytest.mark.parametrize("options, message", [
    ({"hostname": "Node_1"}, "hostname"),
    ({"address": "10.77.0.11"}, "prefix length"),
    ({"address": "10.77.0.0/24"}, "host address"),
    ({"gateway": "10.78.0.1"}, "gateway"),
    ({"bridge": "a-bridge-name-too-long"}, "bridge"),
    ({"bridge_netns": "../x"}, "bridge_netns"),
    ({"public_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "public_key"),
    ({"public_key": KEY + "\n" + KEY}, "public_key"),
    ({"image_id": "ami-../../x"}, "image id"),
    ({"image_id": "ami-0123456789abcdef1"}, "not in the image cache"),
])
def test_bad_options_name_the_option(world, options, message):
    with pytest.raises(ValueError if message not in ("public_key", "not in the image cache") else li.InstanceError,
                       match=message):
        run(world, **options)
    assert world.store.ids() == []


def test_stages_are_fixed_text():
    """Values reach the stages as arguments only: nothing in their text depends on an instance."""
    first = boot.unshare_argv(BASE, "a", "10.0.0.2/24", None)
    second = boot.unshare_argv(BASE + 65536, "b", "10.0.0.3/24", "10.0.0.1")
    for argv in (first, second):
        assert argv[argv.index("-c") + 1:argv.index("-c") + 4] == [boot.STAGE1, "hpc-instance-stage1", boot.STAGE2]
    assert first[-1] == ""


def test_image_without_shifted_ids_is_refused(world):
    folder = world.launcher.images.path(IMAGE)
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    del manifest["id_base"]
    write_json(folder, "manifest.json", manifest)
    with pytest.raises(li.InstanceError, match="without shifted ids"):
        run(world)


@pytest.mark.parametrize("path", ["/var/a,upperdir=/etc", "/var/a:b", "relative", "/var/a b"])
def test_overlay_layers_cannot_carry_options(path):
    with pytest.raises(ValueError, match="overlay layer"):
        boot.overlay_argv(1, path, "/u", "/w", "/t")


def test_wait_ready_asks_systemd_as_the_instances_root(world):
    record = run(world)
    states = iter(["starting", "degraded"])

    def runner(argv, env=None, on_line=None):
        world.calls.append(list(argv))
        if argv[-1] == "is-system-running":
            return command_runner.Result(argv, 0, out=next(states) + "\n")
        return command_runner.Result(argv, 0, out="hpc-ssh-hostkeys.service loaded failed failed SSH host keys v1.2\n")

    world.launcher.runner = runner
    assert world.launcher.wait_ready(record["instance_id"], 5) == ("degraded", ["hpc-ssh-hostkeys.service"])
    assert world.calls[-1][:5] == ["nsenter", "--target", str(INIT_PID), "--user", "--mount"]


def test_wait_ready_timeout_says_what_systemd_said(world):
    record = run(world)
    world.launcher.runner = lambda argv, env=None, on_line=None: command_runner.Result(argv, 0, out="starting\n")
    with pytest.raises(li.InstanceError, match="systemd says 'starting'"):
        world.launcher.wait_ready(record["instance_id"], 0.05)
