# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local provider's cluster records: one ``<name>.json`` per cluster, in describe-cluster's shape.

Root reads a record to delete the folders and the user it names, and the inventory turns it into
a host that root drives, so the store trusts neither a name nor a file: a name passes
ParallelCluster's rule before a path is built from it, files are opened inside the record folder
without following links, and a record that is not what the store wrote is a DamagedRecordError
naming the file and the fix. A damaged record never hides the other clusters.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat

from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils.image_os import OS_DEFAULT_USERS
from ansible_collections.hpc.parallelcluster.plugins.module_utils.image_os import default_user

FOLDER_MODE = 0o755
RECORD_MODE = 0o644
# A record is a few kilobytes; anything this large was not written by the store.
MAX_RECORD_BYTES = 4 * 1024 * 1024

STATUSES = (cb.CREATE_IN_PROGRESS, cb.CREATE_COMPLETE, cb.CREATE_FAILED, cb.UPDATE_IN_PROGRESS,
            cb.UPDATE_COMPLETE, cb.UPDATE_FAILED, cb.DELETE_IN_PROGRESS, cb.DELETE_FAILED)

_NONE = type(None)
# Fields as the store writes them; a parent is checked before its children.
_REQUIRED = (("clusterName", str), ("clusterStatus", str), ("headNode", dict), ("clusterConfiguration", dict))
_OPTIONAL = (
    ("cloudformationStackStatus", str), ("computeFleetStatus", str), ("region", (str, _NONE)), ("version", str),
    ("provider", str), ("scheduler", dict), ("failures", list), ("creationTime", str), ("lastUpdatedTime", str),
    ("headNode.state", str), ("headNode.instanceId", str), ("headNode.instanceType", (str, _NONE)),
    ("headNode.privateIpAddress", (str, _NONE)), ("headNode.publicIpAddress", (str, _NONE)),
    ("clusterConfiguration.Image", dict), ("clusterConfiguration.Image.Os", str),
    ("clusterConfiguration.SharedStorage", list), ("local", dict), ("local.createdDirs", list),
    ("local.createdUser", str), ("local.defaultUser", str),
)
_MISSING = object()

# Folders a delete never removes, whatever a record says it created: ParallelCluster's reserved
# mount dirs (SharedStorageMountDirValidator) and the other top folders of the system.
SYSTEM_DIRS = frozenset(("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
                         "/media", "/mnt", "/opt", "/opt/parallelcluster", "/opt/parallelcluster/shared",
                         "/opt/parallelcluster/shared_login_nodes", "/opt/slurm", "/opt/intel", "/proc", "/root",
                         "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var"))


_JSON_TYPES = ((dict, "an object"), (list, "an array"), (str, "a string"), (bool, "a boolean"),
               (int, "a number"), (float, "a number"), (_NONE, "null"))


def _json_type(value):
    for kind, text in _JSON_TYPES:
        if isinstance(value, kind):
            return text
    return type(value).__name__


def _field(record, dotted):
    value = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def record_problem(record, name):
    """Why ``record`` (read from ``<name>.json``) is not a record the store wrote, or None."""
    if not isinstance(record, dict):
        return "it holds %s, not a JSON object" % _json_type(record)
    for field, _kind in _REQUIRED:
        if field not in record:
            return "the field %s is missing" % field
    for field, kind in _REQUIRED + _OPTIONAL:
        value = _field(record, field)
        if value is not _MISSING and not isinstance(value, kind):
            kinds = kind if isinstance(kind, tuple) else (kind,)
            wanted = " or ".join(text for k, text in _JSON_TYPES if k in kinds)
            return "the field %s is %s, not %s" % (field, _json_type(value), wanted)
    if record["clusterName"] != name:
        return "its clusterName %r is not its file name's %r" % (record["clusterName"], name)
    if record["clusterStatus"] not in STATUSES:
        return "its clusterStatus %r is not a ParallelCluster status" % record["clusterStatus"]
    listed = _field(record, "local.createdDirs")
    if listed is not _MISSING and not all(isinstance(d, str) for d in listed):
        return "the field local.createdDirs holds something other than folder paths"
    return None


def created_dirs(record):
    """(folders a delete may remove, [(folder, why not)] for the others).

    Only a MountDir of the record's own configuration, given as an absolute path without links and
    outside the system's top folders, is removed: the list itself is data from a file.
    """
    storage = _field(record, "clusterConfiguration.SharedStorage")
    mounts = {s.get("MountDir") for s in storage if isinstance(s, dict)} if isinstance(storage, list) else set()
    listed = _field(record, "local.createdDirs")
    allowed, refused = [], []
    for folder in listed if isinstance(listed, list) else []:
        if not isinstance(folder, str) or not os.path.isabs(folder) or os.path.normpath(folder) != folder:
            refused.append((folder, "not an absolute, normalised path"))
        elif folder in SYSTEM_DIRS:
            refused.append((folder, "a system folder"))
        elif folder not in mounts:
            refused.append((folder, "not a MountDir of the cluster's configuration"))
        elif os.path.realpath(folder) != folder:
            refused.append((folder, "it goes through a symbolic link"))
        else:
            allowed.append(folder)
    return allowed, refused


def created_user(record):
    """(the OS user a delete may remove or None, why a listed user may not be removed or None).

    Only the default user of the record's own ``Image.Os`` is ever created, so only that one goes.
    """
    user = _field(record, "local.createdUser")
    if user is _MISSING or not user:
        return None, None
    expected = default_user(_field(record, "clusterConfiguration") if isinstance(record, dict) else {})
    if user != expected or user not in OS_DEFAULT_USERS.values():
        return None, "local.createdUser %r is not the default user of the cluster's Image.Os (%s)" % (user, expected)
    return user, None


class RecordStore:
    """Load, save, list and remove cluster records in one folder (root's, mode 0755)."""

    def __init__(self, folder):
        self.folder = folder

    def path(self, name):
        """The record file of ``name``; a name ParallelCluster refuses never becomes a path."""
        cb.check_cluster_name(name)
        return os.path.join(self.folder, "%s.json" % name)

    def damaged(self, name, problem):
        path = os.path.join(self.folder, "%s.json" % name)
        return cb.DamagedRecordError("the cluster record %s is damaged: %s; remove or repair %s" % (path, problem, path),
                                     path)

    def _open_folder(self, create=False):
        """A descriptor of the record folder (None when it does not exist), refused unless it is root's
        (or this user's) and writable by its owner only: anyone else could plant records."""
        if create:
            os.makedirs(self.folder, mode=FOLDER_MODE, exist_ok=True)
        try:
            fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise cb.BackendError("the cluster record folder %s cannot be opened (%s); it must be a folder, "
                                  "not a symbolic link" % (self.folder, exc.strerror))
        info = os.fstat(fd)
        if info.st_uid not in (0, os.geteuid()) or info.st_mode & 0o022:
            os.close(fd)
            raise cb.BackendError("the cluster record folder %s is owned by uid %d with mode %04o; only root may "
                                  "write there: chown root:root and chmod 0755 it"
                                  % (self.folder, info.st_uid, stat.S_IMODE(info.st_mode)))
        return fd

    def _read(self, folder, name):
        try:
            fd = os.open("%s.json" % name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.damaged(name, "it is a symbolic link" if exc.errno == errno.ELOOP
                               else "it cannot be read (%s)" % exc.strerror)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid not in (0, os.geteuid()):
            os.close(fd)
            raise self.damaged(name, "it is not a regular file" if not stat.S_ISREG(info.st_mode)
                               else "it is owned by uid %d, not by root" % info.st_uid)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
        if len(data) > MAX_RECORD_BYTES:
            raise self.damaged(name, "it is larger than %d bytes" % MAX_RECORD_BYTES)
        if not data.strip():
            raise self.damaged(name, "it is empty")
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self.damaged(name, "it is not complete JSON (%s)" % exc)
        problem = record_problem(record, name)
        if problem:
            raise self.damaged(name, problem)
        return record

    def load(self, name):
        """The record of ``name``, or None when there is none; DamagedRecordError when it cannot be trusted."""
        self.path(name)
        folder = self._open_folder()
        if folder is None:
            return None
        try:
            return self._read(folder, name)
        finally:
            os.close(folder)

    def load_all(self, warn):
        """Every record that can be trusted, by name; each file that cannot is skipped with ``warn(message)``."""
        folder = self._open_folder()
        if folder is None:
            return []
        records = []
        try:
            for entry in sorted(os.listdir(folder)):
                if not entry.endswith(".json"):
                    continue
                name = entry[:-len(".json")]
                problem = cb.cluster_name_problem(name)
                if problem:
                    warn("Skipping cluster record %s: its file name is not a cluster name (%s); remove or rename it"
                         % (os.path.join(self.folder, entry), problem))
                    continue
                try:
                    record = self._read(folder, name)
                except cb.DamagedRecordError as exc:
                    warn("Skipping a cluster record: %s" % exc)
                    continue
                if record is not None:
                    records.append(record)
        finally:
            os.close(folder)
        return records

    def save(self, record):
        """Write the record atomically (a new file renamed over the old one), mode 0644."""
        name = record.get("clusterName")
        self.path(name)
        problem = record_problem(record, name)
        if problem:
            raise cb.BackendError("refusing to write the cluster record of %s: %s" % (name, problem))
        data = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")
        folder = self._open_folder(create=True)
        tmp = ".%s.json.%s.tmp" % (name, secrets.token_hex(8))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, RECORD_MODE,
                         dir_fd=folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fchmod(handle.fileno(), RECORD_MODE)
                    os.fsync(handle.fileno())
                os.replace(tmp, "%s.json" % name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=folder)
                except OSError:
                    pass
                raise
        finally:
            os.close(folder)

    def remove(self, name):
        """Remove the record file of ``name`` (a link is removed, never followed); True if there was one."""
        self.path(name)
        folder = self._open_folder()
        if folder is None:
            return False
        try:
            os.unlink("%s.json" % name, dir_fd=folder)
        except FileNotFoundError:
            return False
        finally:
            os.close(folder)
        return True
