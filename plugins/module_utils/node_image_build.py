# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building a node image once: debootstrap, ParallelCluster's users, the packages, the
customisation, the owners moved to the instances' id range (id_shift), a manifest, then a rename
into the cache.

Each step that takes long reports progress through ``progress(message)``. Commands in the tree run
chrooted in a private mount and PID namespace with its own /proc (``unshare --mount-proc``), so
nothing stays mounted and no package script outlives its step; package scripts may not start
services (policy-rc.d). Files are written through tree_files, which never follows the tree's links.
"""

from __future__ import annotations

import datetime
import os
import time

from ansible_collections.hpc.parallelcluster.plugins.module_utils import command_runner
from ansible_collections.hpc.parallelcluster.plugins.module_utils import id_shift
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_files as files
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_layout as layout
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_recipe as recipes
from ansible_collections.hpc.parallelcluster.plugins.module_utils import tree_files
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import MANIFEST, ROOTFS
from ansible_collections.hpc.parallelcluster.plugins.module_utils.root_folders import write_json

POLICY_RC_D = "#!/bin/sh\n# No service starts while the image is built.\nexit 101\n"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true"}
# Seconds between two progress reports of one long step.
PROGRESS_EVERY = 15


class BuildError(RuntimeError):
    pass


def chroot_argv(rootfs, argv):
    """``argv`` run in the tree, in private mount and PID namespaces with the tree's own /proc."""
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
            "--mount-proc=%s" % os.path.join(rootfs, "proc"), "chroot", rootfs] + list(argv)


def debootstrap_argv(recipe, rootfs):
    return ["debootstrap", "--variant=minbase", "--arch=%s" % recipe.arch, recipe.release, rootfs, recipe.mirror]


def apt_install_argv(packages):
    return ["apt-get", "install", "--yes", "--no-install-recommends", "-o", "Dpkg::Use-Pty=0",
            "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"] + sorted(packages)


class Ticker:
    """Turns a stream of output lines into a progress message at most every PROGRESS_EVERY seconds:
    how many lines started with each of ``counts`` so far, or else the last line."""

    def __init__(self, what, progress, clock, counts=()):
        self.what, self.progress, self.clock, self.counts = what, progress, clock, counts
        self.started = self.last = clock()
        self.counted = dict.fromkeys(counts, 0)

    def __call__(self, line):
        for prefix in self.counts:
            if line.startswith(prefix):
                self.counted[prefix] += 1
        now = self.clock()
        if now - self.last >= PROGRESS_EVERY:
            self.last = now
            done = ", ".join("%s %d" % (prefix.strip().lower(), self.counted[prefix]) for prefix in self.counts) \
                if self.counts else line.strip()[:100]
            self.progress("%s: %ds, %s" % (self.what, now - self.started, done))


class Builder:
    """Finds or builds the image of a recipe in an ImageCache."""

    def __init__(self, cache, runner=command_runner.run, progress=lambda message: None, clock=time.monotonic):
        self.cache, self.runner, self.progress, self.clock = cache, runner, progress, clock

    def ensure(self, recipe):
        """(manifest, built): the recipe's image, built now if the cache does not have it."""
        image_id = recipes.image_id(recipe)
        manifest = self.cache.manifest(image_id)
        if manifest:
            return manifest, False
        with self.cache.lock():
            manifest = self.cache.manifest(image_id)
            if manifest:
                return manifest, False
            build = self.cache.new_build(image_id)
            manifest = self.build(recipe, build)
            self.cache.publish(build, image_id)
        return manifest, True

    def run(self, argv, what, env=None, on_line=None):
        return command_runner.check(self.runner(argv, env=env, on_line=on_line), what)

    def in_tree(self, rootfs, argv, what, env=None, on_line=None):
        return self.run(chroot_argv(rootfs, argv), what, env=env, on_line=on_line)

    def build(self, recipe, build):
        """Build the image into the folder ``build``; its manifest."""
        started = self.clock()
        image_id = recipes.image_id(recipe)
        rootfs = os.path.join(build, ROOTFS)
        self.progress("building node image %s: Debian %s (%s), OS user %s, in %s"
                      % (image_id, recipe.release, recipe.arch, recipe.os_user, build))

        step = self.clock()
        self.progress("debootstrap %s from %s (about a minute)" % (recipe.release, recipe.mirror))
        self.run(debootstrap_argv(recipe, rootfs), "debootstrap of %s" % recipe.release,
                 on_line=Ticker("debootstrap", self.progress, self.clock))
        self.progress("debootstrap done in %ds" % (self.clock() - step))

        tree_files.write_file(rootfs, "/usr/sbin/policy-rc.d", POLICY_RC_D, 0o755)
        for argv in files.users(recipe.os_user):
            self.in_tree(rootfs, argv, "creating user %s" % argv[-1])

        step = self.clock()
        self.progress("installing %d packages and their dependencies (a few minutes)" % len(recipes.PACKAGES))
        self.in_tree(rootfs, apt_install_argv(recipes.PACKAGES), "apt-get install", env=APT_ENV,
                     on_line=Ticker("packages", self.progress, self.clock, counts=("Unpacking ", "Setting up ")))
        self.progress("packages installed in %ds" % (self.clock() - step))

        self.progress("customising the tree (ParallelCluster's paths, units, users)")
        self.lay_out_slurm(rootfs, recipe)
        self.customise(rootfs, recipe)
        versions = self.versions(rootfs)
        self.check_slurm(recipe, versions)
        self.clean(rootfs)
        os.chmod(rootfs, 0o755)
        step = self.clock()
        shifted = id_shift.shift_tree(rootfs, files.ID_BASE)
        self.progress("owners of %d entries moved to the instances' id range (%d+) in %ds"
                      % (shifted, files.ID_BASE, self.clock() - step))

        manifest = {
            "image_id": image_id,
            "recipe_hash": recipes.recipe_hash(recipe),
            "release": recipe.release,
            "debian": recipes.RELEASES[recipe.release]["debian"],
            "arch": recipe.arch,
            "os": recipe.os,
            "os_user": recipe.os_user,
            "os_user_uid": files.OS_USER_UID,
            "id_base": files.ID_BASE,
            "slurm_version": versions.get("slurmctld", ""),
            "versions": versions,
            "mirror": recipe.mirror,
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "build_seconds": int(self.clock() - started),
        }
        write_json(build, MANIFEST, manifest, mode=0o644)
        self.progress("node image %s built in %ds (Slurm %s)"
                      % (image_id, manifest["build_seconds"], manifest["slurm_version"]))
        return manifest

    def lay_out_slurm(self, rootfs, recipe):
        """ParallelCluster's /opt/slurm over Debian's packages (node_image_layout)."""
        listed = self.in_tree(rootfs, ["dpkg-query", "-L"] + list(recipes.SLURM_PACKAGES), "listing Slurm's files")
        tree_files.make_dir(rootfs, layout.ETC, 0o755)
        if os.path.isdir(os.path.join(rootfs, layout.DEBIAN_ETC.lstrip("/"))) and \
                not os.path.islink(os.path.join(rootfs, layout.DEBIAN_ETC.lstrip("/"))):
            tree_files.move_entries(rootfs, layout.DEBIAN_ETC, layout.ETC)
        for link, target in layout.static_links(recipe.multiarch) + layout.program_links(listed.out):
            tree_files.make_link(rootfs, link, target)

    def customise(self, rootfs, recipe):
        for item in files.files(recipe.os_user, recipe.multiarch):
            if "link" in item:
                tree_files.make_link(rootfs, item["path"], item["link"])
            else:
                tree_files.write_file(rootfs, item["path"], item["content"], item["mode"], create_mode=0o755)
        for argv in files.commands():
            self.in_tree(rootfs, argv, " ".join(argv[:2]))
        for path in files.REMOVED:
            tree_files.remove(rootfs, path)
        for path in files.EMPTIED:
            tree_files.write_file(rootfs, path, "", 0o444)

    def versions(self, rootfs):
        """Installed versions of the packages the manifest records."""
        listed = self.in_tree(rootfs, ["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\n"]
                              + list(recipes.VERSIONED_PACKAGES), "reading package versions")
        found = {}
        for line in listed.out.splitlines():
            name, _tab, version = line.partition("\t")
            if name and version:
                found[name] = version
        return found

    def check_slurm(self, recipe, versions):
        series = recipe.slurm_series
        version = versions.get("slurmctld", "")
        if series and not version.startswith(series + "."):
            raise BuildError("Debian %s gave Slurm %r, not the %s series this release is pinned to; check the mirror "
                             "(%s) or update RELEASES in node_image_recipe" % (recipe.release, version, series,
                                                                               recipe.mirror))

    def clean(self, rootfs):
        """Drop what only the build needed: the service block, apt's caches and package lists, and
        debootstrap's device nodes (an instance gets a /dev of its own)."""
        tree_files.remove(rootfs, "/usr/sbin/policy-rc.d")
        dev = os.path.join(rootfs, "dev")
        for entry in os.listdir(dev):
            if not os.path.isdir(os.path.join(dev, entry)) or os.path.islink(os.path.join(dev, entry)):
                os.unlink(os.path.join(dev, entry))
        self.in_tree(rootfs, ["apt-get", "clean"], "apt-get clean")
        lists = os.path.join(rootfs, "var/lib/apt/lists")
        for entry in os.listdir(lists):
            path = os.path.join(lists, entry)
            if os.path.isfile(path) and not os.path.islink(path):
                os.unlink(path)
