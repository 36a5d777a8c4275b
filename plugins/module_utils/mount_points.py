# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared storage mount points of the local provider, made without following links.

A MountDir becomes a folder every cluster user can write to, root's and mode 1777, as the root of
ParallelCluster's shared storage is (a folder already there, whoever made it, is taken over: the
roles decide what root may make below it by who owns it). Root makes it, so every component is opened from ``/`` one name at a time,
never through a symbolic link that someone planted after the config was validated: the folder
created or chmodded is always the one the config names.
"""

from __future__ import annotations

import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class MountPointError(ValueError):
    pass


def _open_child(parent_fd, name, walked, create):
    """The folder ``name`` below ``parent_fd``, made (root's, 0755) when missing and ``create``."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd), False
    except FileNotFoundError:
        if not create:
            raise MountPointError("%s does not exist" % walked)
    except OSError as exc:
        try:
            info = os.lstat(name, dir_fd=parent_fd)
        except OSError:
            info = None
        if info is not None and stat.S_ISLNK(info.st_mode):
            raise MountPointError("%s is a symbolic link: a mount point is never reached through one" % walked)
        raise MountPointError("%s is not a folder (%s)" % (walked, exc.strerror))
    try:
        os.mkdir(name, 0o755, dir_fd=parent_fd)
    except FileExistsError:
        pass  # made meanwhile: opened below like any other, links refused
    return _open_child(parent_fd, name, walked, create=False)[0], True


def is_mount_point(path, mode=0o1777):
    """True when ``path`` is a folder of root's with ``mode`` (no link at its name)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and stat.S_IMODE(info.st_mode) == mode


def ensure_mount_point(path, mode=0o1777):
    """Make ``path`` (and missing parents), give it to root and ``mode``; True when the last folder was made."""
    if not path.startswith("/") or os.path.normpath(path) != path or path == "/":
        raise MountPointError("%r is not a normalised absolute path below /" % (path,))
    fd = os.open("/", _DIR_FLAGS)
    created = False
    walked = ""
    try:
        for name in path.strip("/").split("/"):
            walked += "/" + name
            child, created = _open_child(fd, name, walked, create=True)
            os.close(fd)
            fd = child
        os.fchown(fd, 0, 0)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return created
