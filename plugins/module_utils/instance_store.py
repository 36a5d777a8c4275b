# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local provider's instance records: one folder per instance, root's alone (0700).

``<root>/<instance id>/record.json`` (0600) says what was started (PID and its start time, cgroup,
veth, address); ``upper/`` and ``work/`` are the instance's writable layer over its image and
``boot/root/`` the point its root filesystem is mounted on, in the instance's own mount namespace. A
terminate reads the record to find what to stop, so records are only read from this folder and
only when they are regular files of root's. Instance ids are checked before they become paths.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil

from ansible_collections.hpc.parallelcluster.plugins.module_utils import root_folders
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths

# Beside the cluster records, in the local provider's state folder, which goes once empty.
DEFAULT_ROOT = LocalPaths().state + "/instances"
RECORD = "record.json"
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{17}$")


class InstanceNotFound(KeyError):
    def __str__(self):
        return "there is no instance %s (describe-instances lists the instances)" % (self.args[0] if self.args else "")


def check_instance_id(value):
    if not isinstance(value, str) or not INSTANCE_ID.match(value):
        raise ValueError("instance id %r is not one of a local instance (i- and 17 hex digits)" % (value,))
    return value


def new_instance_id():
    """An id shaped like EC2's (``i-`` and 17 hex digits)."""
    return "i-" + secrets.token_hex(9)[:17]


class InstanceStore:
    def __init__(self, root=DEFAULT_ROOT, trusted="/"):
        self.root = os.path.normpath(root)
        self.trusted = trusted

    def folder(self, instance_id):
        return os.path.join(self.root, check_instance_id(instance_id))

    @contextlib.contextmanager
    def lock(self):
        """One launcher at a time between choosing an address and recording it, and around the
        removal of the folder once empty. The folder itself is locked (no lock file stays behind);
        a lock taken on a folder that was removed meanwhile is taken again on the new one."""
        while True:
            root_folders.ensure(self.root, 0o700, self.trusted)
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.lstat(self.root)
            except FileNotFoundError:
                current = None
            if current is not None and current.st_ino == os.fstat(fd).st_ino:
                break
            os.close(fd)
        try:
            yield
        finally:
            os.close(fd)

    def create(self, instance_id):
        """The new instance's folder with its empty layer folders (all 0700, root's)."""
        root_folders.ensure(self.root, 0o700, self.trusted)
        folder = self.folder(instance_id)
        os.mkdir(folder, 0o700)
        for name in ("upper", "work", "boot"):
            os.mkdir(os.path.join(folder, name), 0o700)
        # The layer's top is the instance's "/": the image's own mode. The first process starts
        # in boot/ (its ids are not root's) and finds the overlay's mount point there.
        os.chmod(os.path.join(folder, "upper"), 0o755)
        os.chmod(os.path.join(folder, "boot"), 0o755)
        os.mkdir(os.path.join(folder, "boot", "root"), 0o755)
        return folder

    def save(self, record):
        root_folders.check_path(self.folder(record["instance_id"]), self.trusted)
        root_folders.write_json(self.folder(record["instance_id"]), RECORD, record)

    def load(self, instance_id):
        folder = self.folder(instance_id)
        if not os.path.isdir(folder):
            raise InstanceNotFound(instance_id)
        root_folders.check_path(folder, self.trusted)
        record = root_folders.read_json(folder, RECORD)
        if not isinstance(record, dict) or record.get("instance_id") != instance_id:
            raise InstanceNotFound(instance_id)
        return record

    def ids(self):
        if not os.path.isdir(self.root):
            return []
        root_folders.check_path(self.root, self.trusted)
        return sorted(entry for entry in os.listdir(self.root) if INSTANCE_ID.match(entry))

    def records(self):
        found = []
        for instance_id in self.ids():
            try:
                found.append(self.load(instance_id))
            except (InstanceNotFound, root_folders.FolderError):
                continue
        return found

    def remove(self, instance_id):
        """Remove the instance's folder (its layer and record), and the store's folder once no
        instance is left in it; True if there was one."""
        folder = self.folder(instance_id)
        if not os.path.isdir(folder):
            return False
        root_folders.check_path(folder, self.trusted)
        with self.lock():
            shutil.rmtree(folder)
            if not os.listdir(self.root):
                os.rmdir(self.root)
                if self.root == DEFAULT_ROOT:
                    try:
                        os.rmdir(os.path.dirname(self.root))
                    except OSError:
                        pass
        return True
