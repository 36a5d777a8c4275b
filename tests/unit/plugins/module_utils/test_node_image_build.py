"""The node image builder on a fake runner: the steps run in order with their arguments as data,
the tree gets ParallelCluster's layout and loses its per-machine secrets, the image appears whole
(or not at all) under its recipe's id, and a cached image runs nothing."""

import json
import os
import stat

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import command_runner
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_build as nb
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_recipe as recipes
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache

DPKG_L = "/usr/bin/sinfo\n/usr/sbin/slurmd-wlm\n/usr/share/doc/slurmd/copyright\n"


class FakeRunner:
    """Plays debootstrap (a small tree) and the commands in it; records every argv."""

    def __init__(self, slurm="24.11.5-4+deb13u1"):
        self.calls = []
        self.slurm = slurm

    def __call__(self, argv, env=None, on_line=None):
        self.calls.append(list(argv))
        if argv[0] == "debootstrap":
            root = argv[-2]
            for folder in ("etc/slurm", "etc/ssh", "etc/munge", "usr/sbin", "usr/bin", "var/lib/apt/lists", "proc",
                           "home", "dev/pts"):
                os.makedirs(os.path.join(root, folder))
            for path, text in (("etc/slurm/plugstack.conf", "include /etc/slurm/plugstack.conf.d/*"),
                               ("etc/ssh/ssh_host_ed25519_key", "secret"), ("etc/munge/munge.key", "secret"),
                               ("etc/machine-id", "0123"), ("etc/hostname", "builder"),
                               ("var/lib/apt/lists/deb_Packages", "x"), ("dev/console", "")):
                with open(os.path.join(root, path), "w") as handle:
                    handle.write(text)
            if on_line:
                on_line("I: Retrieving Release")
            return command_runner.Result(argv, 0)
        inside = argv[argv.index("chroot") + 2:] if "chroot" in argv else argv
        if inside[:2] == ["dpkg-query", "-L"]:
            return command_runner.Result(argv, 0, out=DPKG_L)
        if inside[:2] == ["dpkg-query", "-W"]:
            return command_runner.Result(argv, 0, out="slurmctld\t%s\nmunge\t0.5.16\n" % self.slurm)
        return command_runner.Result(argv, 0)

    def inside(self):
        return [a[a.index("chroot") + 2:] for a in self.calls if "chroot" in a]


@pytest.fixture
def cache(tmp_path):
    os.chmod(tmp_path, 0o755)
    return ImageCache(str(tmp_path / "images"), trusted=str(tmp_path))


def test_build_steps_and_tree(cache):
    runner, messages = FakeRunner(), []
    recipe = recipes.make_recipe()
    manifest, built = nb.Builder(cache, runner, messages.append).ensure(recipe)
    image_id = recipes.image_id(recipe)
    assert built and manifest["image_id"] == image_id
    assert runner.calls[0] == ["debootstrap", "--variant=minbase", "--arch=amd64", "trixie",
                               runner.calls[0][4], "http://deb.debian.org/debian"]
    rootfs = cache.rootfs(image_id)
    # Every command in the tree runs chrooted in private mount and PID namespaces with its own /proc.
    chrooted = [a for a in runner.calls if "chroot" in a]
    assert all(a[:5] == ["unshare", "--mount", "--pid", "--fork", "--kill-child"] for a in chrooted)
    inside = runner.inside()
    assert inside[0][:1] == ["groupadd"] and inside[4][-1] == "ec2-user"
    install = [a for a in inside if a[:2] == ["apt-get", "install"]]
    assert len(install) == 1 and set(recipes.PACKAGES) <= set(install[0])
    assert ["systemctl", "disable"] + list(nb.files.DISABLED_UNITS) in inside
    # ParallelCluster's layout.
    assert os.readlink(os.path.join(rootfs, "etc/slurm")) == "/opt/slurm/etc"
    assert os.path.isfile(os.path.join(rootfs, "opt/slurm/etc/plugstack.conf"))
    assert os.readlink(os.path.join(rootfs, "opt/slurm/bin/sinfo")) == "/usr/bin/sinfo"
    assert os.readlink(os.path.join(rootfs, "opt/slurm/sbin/slurmd")) == "/usr/sbin/slurmd"
    assert os.readlink(os.path.join(rootfs, "etc/profile.d/slurm.sh")) == "/opt/slurm/etc/slurm.sh"
    sudoers = os.path.join(rootfs, "etc/sudoers.d/90-cloud-init-users")
    assert open(sudoers).read() == "ec2-user ALL=(ALL) NOPASSWD:ALL\n"
    assert stat.S_IMODE(os.stat(sudoers).st_mode) == 0o440
    # No per-machine secret or identity, no build-only file.
    for gone in ("etc/munge/munge.key", "etc/ssh/ssh_host_ed25519_key", "etc/hostname", "usr/sbin/policy-rc.d",
                 "var/lib/apt/lists/deb_Packages"):
        assert not os.path.lexists(os.path.join(rootfs, gone)), gone
    assert open(os.path.join(rootfs, "etc/machine-id")).read() == ""
    assert os.listdir(os.path.join(rootfs, "dev")) == ["pts"]
    # Owned by the instances' id range (their root is no one on the machine), the cache by root.
    base = nb.files.ID_BASE
    assert manifest["id_base"] == base
    assert os.stat(rootfs).st_uid == base and os.stat(sudoers).st_uid == base
    assert os.lstat(os.path.join(rootfs, "etc/slurm")).st_uid == base
    assert os.stat(cache.path(image_id)).st_uid == 0
    # The manifest and the cache's modes.
    assert json.load(open(os.path.join(cache.path(image_id), "manifest.json")))["slurm_version"] == "24.11.5-4+deb13u1"
    assert stat.S_IMODE(os.stat(cache.root).st_mode) == 0o700
    assert [e for e in os.listdir(cache.root) if e.startswith(".build-")] == []
    assert any("debootstrap" in m for m in messages) and "built in" in messages[-1]


def test_cached_image_runs_nothing(cache):
    recipe = recipes.make_recipe()
    nb.Builder(cache, FakeRunner()).ensure(recipe)
    again = FakeRunner()
    manifest, built = nb.Builder(cache, again).ensure(recipe)
    assert (built, again.calls, manifest["image_id"]) == (False, [], recipes.image_id(recipe))


def test_another_recipe_builds_another_image(cache):
    nb.Builder(cache, FakeRunner()).ensure(recipes.make_recipe())
    runner = FakeRunner(slurm="22.05.8-4+deb12u3")
    _manifest, built = nb.Builder(cache, runner).ensure(recipes.make_recipe("bookworm"))
    assert built and runner.calls[0][3] == "bookworm"
    assert len(cache.images()) == 2


def test_wrong_slurm_series_publishes_nothing(cache):
    recipe = recipes.make_recipe()
    with pytest.raises(nb.BuildError, match="not the 24.11 series"):
        nb.Builder(cache, FakeRunner(slurm="25.05.1-1")).ensure(recipe)
    assert cache.manifest(recipes.image_id(recipe)) is None
    # The next build starts from a clean cache folder.
    nb.Builder(cache, FakeRunner()).ensure(recipe)
    assert [e for e in os.listdir(cache.root) if e.startswith(".build-")] == []


def test_failing_command_names_it(cache):
    def failing(argv, env=None, on_line=None):
        return command_runner.Result(argv, 100, tail=["E: Unable to locate package slurmctld"])

    with pytest.raises(command_runner.CommandError) as caught:
        nb.Builder(cache, failing).ensure(recipes.make_recipe())
    assert "debootstrap of trixie failed" in str(caught.value) and "Unable to locate" in str(caught.value)


def test_ticker_reports_counts_at_most_every_period():
    now, said = [0.0], []
    ticker = nb.Ticker("packages", said.append, lambda: now[0], counts=("Unpacking ", "Setting up "))
    for step, line in enumerate(["Unpacking a", "Unpacking b", "Setting up a", "Setting up b"]):
        now[0] = step * 8.0
        ticker(line)
    assert said == ["packages: 16s, unpacking 2, setting up 1"]


def test_remove_image(cache):
    recipe = recipes.make_recipe()
    nb.Builder(cache, FakeRunner()).ensure(recipe)
    assert cache.remove(recipes.image_id(recipe)) is True
    assert cache.images() == [] and cache.remove(recipes.image_id(recipe)) is False
