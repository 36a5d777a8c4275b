# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where node images are kept: one folder per image id, root's alone.

``<root>/<image id>/rootfs`` is the image's tree and ``<root>/<image id>/manifest.json`` says what
it is; an image folder without its manifest is not an image. Builds happen in ``<root>/.build-*``
folders (one at a time, under a lock) and are renamed into place whole, so a reader never sees a
half-built image. The root folder is mode 0700: nobody else may read or plant anything there.
The default is under /var/cache: an image can always be built again from its recipe.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile

from ansible_collections.hpc.parallelcluster.plugins.module_utils import root_folders
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_recipe import check_image_id

DEFAULT_ROOT = "/var/cache/hpc-parallelcluster/images"
MANIFEST = "manifest.json"
ROOTFS = "rootfs"


class ImageCache:
    def __init__(self, root=DEFAULT_ROOT, trusted="/"):
        self.root = os.path.normpath(root)
        self.trusted = trusted

    def ensure_root(self):
        root_folders.ensure(self.root, 0o700, self.trusted)

    def path(self, image_id):
        return os.path.join(self.root, check_image_id(image_id))

    def rootfs(self, image_id):
        return os.path.join(self.path(image_id), ROOTFS)

    def manifest(self, image_id):
        """The manifest of a complete image, or None."""
        folder = self.path(image_id)
        root_folders.check_path(self.root, self.trusted)
        if not os.path.isdir(folder) or os.path.islink(folder):
            return None
        root_folders.check_path(folder, self.trusted)
        manifest = root_folders.read_json(folder, MANIFEST)
        if manifest is None or manifest.get("image_id") != image_id:
            return None
        return manifest

    def images(self):
        """Manifests of every complete image."""
        if not os.path.isdir(self.root):
            return []
        root_folders.check_path(self.root, self.trusted)
        found = []
        for entry in sorted(os.listdir(self.root)):
            if entry.startswith("."):
                continue
            try:
                manifest = self.manifest(entry)
            except ValueError:
                continue
            if manifest:
                found.append(manifest)
        return found

    @contextlib.contextmanager
    def lock(self):
        """One build at a time (a second builder waits, then finds the image made)."""
        self.ensure_root()
        fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def new_build(self, image_id):
        """A fresh build folder for ``image_id`` (0700), after removing builds an interrupted run left."""
        for entry in os.listdir(self.root):
            if entry.startswith(".build-") or entry.startswith(".trash-"):
                shutil.rmtree(os.path.join(self.root, entry))
        return tempfile.mkdtemp(prefix=".build-%s-" % check_image_id(image_id), dir=self.root)

    def publish(self, build, image_id):
        """Rename a finished build into place (0755 from here on: it is a root filesystem's parent)."""
        os.chmod(build, 0o755)
        os.rename(build, self.path(image_id))

    def remove(self, image_id):
        """Remove an image (renamed away first, so no reader sees it half removed); True if there was one."""
        folder = self.path(image_id)
        if not os.path.isdir(folder):
            return False
        trash = tempfile.mkdtemp(prefix=".trash-%s-" % image_id, dir=self.root)
        os.rename(folder, os.path.join(trash, "image"))
        shutil.rmtree(trash)
        return True
