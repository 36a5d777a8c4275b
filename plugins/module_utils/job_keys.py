# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Idempotency keys slurm_job submitted, remembered on the host that runs it.

On a cluster without accounting, slurmctld is the only place a job's comment (its key) can be
read, and it forgets a job MinJobAge after its end. To tell "never submitted" from "submitted, and
forgotten since", slurm_job records each key it submits there in a small JSON file of the
account running the module: ``{"<cluster>": {"<key>": {"job_id": "42", "submitted": 1700000000}}}``.

The file lives in a folder of that account (0700) and is written 0600 through a temporary file
renamed over it, and read without following a symbolic link, as owned_files reads: whoever can
write into the folder is that account already.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import stat
import tempfile
import time

from ansible_collections.hpc.parallelcluster.plugins.module_utils.owned_files import open_owned, read_at_most

# Relative to the home directory of the account running the module.
DEFAULT_STORE = os.path.join(".ansible", "hpc.parallelcluster", "slurm_job_keys.json")
MAX_SIZE = 4 * 1024 * 1024


class KeyStoreError(Exception):
    """The key store cannot be used safely; the message names the path and the fix."""


def default_path():
    return os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, DEFAULT_STORE)


def _check_folder(folder):
    euid = os.geteuid()
    try:
        info = os.lstat(folder)
    except OSError as exc:
        raise KeyStoreError("key_store folder %s cannot be read (%s)" % (folder, exc.strerror or exc))
    if not stat.S_ISDIR(info.st_mode):
        raise KeyStoreError("key_store folder %s is not a directory (a symbolic link or a file); remove it or "
                            "give key_store another path" % folder)
    if info.st_uid != euid or info.st_mode & 0o022:
        mode = stat.S_IMODE(info.st_mode)
        raise KeyStoreError("key_store folder %s must belong to uid %d and be writable by it alone (it is uid %d, "
                            "mode %o); fix it or give key_store another path" % (folder, euid, info.st_uid, mode))


class KeyStore:
    """The keys submitted per cluster, in the JSON file ``path``."""

    def __init__(self, path, clock=time.time):
        self.path = path
        self.clock = clock

    def _load(self):
        folder = os.path.dirname(self.path) or "."
        if not os.path.lexists(folder):
            return {}
        _check_folder(folder)
        if not os.path.lexists(self.path):
            return {}
        handle, why = open_owned(self.path, (os.geteuid(),), "the account running the task (uid %d)" % os.geteuid())
        if handle is None:
            raise KeyStoreError("key_store %s %s; remove it or give key_store another path" % (self.path, why))
        with handle:
            data = read_at_most(handle, MAX_SIZE)
        if data is None:
            raise KeyStoreError("key_store %s is larger than %d bytes; remove it or give key_store another path"
                                % (self.path, MAX_SIZE))
        try:
            records = json.loads(data.decode("utf-8") or "{}")
        except ValueError:
            raise KeyStoreError("key_store %s is not JSON; remove it or give key_store another path" % self.path)
        return records if isinstance(records, dict) else {}

    def lookup(self, cluster, key):
        """The record ({"job_id", "submitted"}) of ``key`` on ``cluster``, or None."""
        record = (self._load().get(cluster) or {}).get(key)
        return record if isinstance(record, dict) else None

    def remember(self, cluster, key, job_id):
        folder = os.path.dirname(self.path) or "."
        if not os.path.lexists(folder):
            os.makedirs(folder, 0o700)
        _check_folder(folder)
        records = self._load()
        records.setdefault(cluster, {})[key] = {"job_id": str(job_id), "submitted": int(self.clock())}
        handle, temp = tempfile.mkstemp(prefix=".slurm_job_keys-", dir=folder)
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(records, out, sort_keys=True, indent=1)
            os.chmod(temp, 0o600)
            os.rename(temp, self.path)
        except BaseException:
            if os.path.exists(temp):
                os.remove(temp)
            raise
