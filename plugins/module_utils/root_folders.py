# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Folders only root may change: created so, and refused when they are not.

Root keeps images and instance state in them and later acts on what it finds there (mounts an
image, kills a PID a record names), so a folder another account could write to, or a link
planted in its place, would let that account steer root. Every component of the path is checked.
"""

from __future__ import annotations

import json
import os
import secrets
import stat


class FolderError(OSError):
    """A folder root cannot trust; the message names it and the fix."""


def check_path(path, trusted="/"):
    """Refuse ``path`` unless every component below ``trusted`` (a folder taken as safe: "/" but
    in tests) is root's, not a link, and not writable by others (sticky /tmp-like folders
    included: a name in them can be taken by anyone)."""
    current = "/"
    trusted = os.path.normpath(trusted)
    for part in [p for p in os.path.normpath(path).split("/") if p]:
        current = os.path.join(current, part)
        if trusted == current or trusted.startswith(current + "/"):
            continue
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise FolderError("%s is a symbolic link; root keeps its state only in real folders: replace it "
                              "with a folder owned by root" % current)
        if not stat.S_ISDIR(info.st_mode):
            raise FolderError("%s is not a folder" % current)
        if info.st_uid != 0 or info.st_mode & 0o022:
            raise FolderError("%s is owned by uid %d with mode %04o; only root may write there: chown root:root "
                              "and chmod go-w it" % (current, info.st_uid, stat.S_IMODE(info.st_mode)))


def ensure(path, mode, trusted="/"):
    """Create ``path`` (parents 0755) as root's with ``mode`` if missing; check the whole path."""
    check_path(path, trusted)
    parent = os.path.dirname(path)
    if parent != path and not os.path.isdir(parent):
        ensure(parent, 0o755, trusted)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        pass
    check_path(path, trusted)
    info = os.lstat(path)
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode, follow_symlinks=False)
    return path


def write_json(folder, name, data, mode=0o600):
    """Write ``data`` as JSON to ``folder/name`` atomically (a new file renamed over the old)."""
    payload = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
    tmp = ".%s.%s.tmp" % (name, secrets.token_hex(6))
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise
    finally:
        os.close(dfd)


def read_json(folder, name, limit=1024 * 1024):
    """The JSON in ``folder/name``, or None when there is no such file. The file must be a regular
    file of root's, not a link; FolderError otherwise."""
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise FolderError("%s/%s cannot be read (%s); remove it" % (folder, name, exc.strerror))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_uid != 0:
                raise FolderError("%s/%s is not a regular file of root's; remove it" % (folder, name))
            data = handle.read(limit + 1)
    finally:
        os.close(dfd)
    if len(data) > limit:
        raise FolderError("%s/%s is larger than %d bytes; remove it" % (folder, name, limit))
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise FolderError("%s/%s is not JSON (%s); remove it" % (folder, name, exc))
