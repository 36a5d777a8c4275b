# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing into another system's root filesystem (an image tree, an instance's layer) as root.

A path inside such a tree is the tree's, not this machine's: an absolute symbolic link in it
(``/etc/resolv.conf -> /run/...``) followed from here would land on this machine's files. So every
operation walks the path from the tree's root one folder at a time with ``O_NOFOLLOW``, refuses a
folder reached through a link, and acts on the last component relative to its folder's descriptor.
"""

from __future__ import annotations

import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeError(OSError):
    """A path inside a tree that cannot be used as asked; the message names it."""


def _parts(path):
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise TreeError("%r is not a path inside the tree" % path)
    return parts


def open_parent(root, path, create_mode=None, like=None):
    """(descriptor of the folder holding ``path``'s last component, that component).

    Missing folders are created with ``create_mode`` (root's), or copied from the same folder in
    the tree ``like`` (its mode and owner), when one of them is given; else they are an error."""
    parts = _parts(path)
    fd = os.open(root, _DIR_FLAGS)
    walked = ""
    try:
        for part in parts[:-1]:
            walked += "/" + part
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if create_mode is None and like is None:
                    raise TreeError("%s does not exist in %s" % (walked, root))
                mode, uid, gid = create_mode, 0, 0
                if like is not None:
                    info = os.stat(os.path.join(like, walked.lstrip("/")), follow_symlinks=False)
                    if not stat.S_ISDIR(info.st_mode):
                        raise TreeError("%s is not a folder in %s" % (walked, like))
                    mode, uid, gid = stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid
                os.mkdir(part, 0o700, dir_fd=fd)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.fchown(nxt, uid, gid)
                os.fchmod(nxt, mode)
            except OSError as exc:
                if isinstance(exc, TreeError):
                    raise
                raise TreeError("%s in %s is not a folder reached without a symbolic link (%s)"
                                % (walked, root, exc.strerror))
            os.close(fd)
            fd = nxt
        return fd, parts[-1]
    except BaseException:
        os.close(fd)
        raise


def write_file(root, path, data, mode=0o644, uid=0, gid=0, create_mode=None, like=None):
    """Write ``data`` (bytes or str) to ``path`` in the tree, replacing what is there (a link
    is replaced, never followed), then give it ``mode``, ``uid`` and ``gid``."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder, name = open_parent(root, path, create_mode, like)
    try:
        _remove_entry(folder, name)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
    finally:
        os.close(folder)


def make_dir(root, path, mode=0o755, uid=0, gid=0, like=None):
    """Create the folder ``path`` (its parents too, from ``like`` or root's 0755) if missing and
    give it ``mode``, ``uid`` and ``gid``."""
    folder, name = open_parent(root, path, create_mode=0o755, like=like)
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=folder)
        except FileExistsError:
            pass
        fd = os.open(name, _DIR_FLAGS, dir_fd=folder)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        os.close(fd)
    finally:
        os.close(folder)


def make_link(root, path, target, create_mode=0o755):
    """Make ``path`` a symbolic link to ``target`` (a path of the tree), replacing a file or link."""
    folder, name = open_parent(root, path, create_mode)
    try:
        _remove_entry(folder, name)
        os.symlink(target, name, dir_fd=folder)
    finally:
        os.close(folder)


def remove(root, path):
    """Remove the file or link ``path`` if it exists; True when it did."""
    try:
        folder, name = open_parent(root, path)
    except TreeError:
        return False
    try:
        return _remove_entry(folder, name)
    finally:
        os.close(folder)


def move_entries(root, source, destination):
    """Move everything in the folder ``source`` into the folder ``destination`` (same tree, which
    must not have entries of the same names), then remove ``source``."""
    src_parent, src_name = open_parent(root, source)
    dst_parent, dst_name = open_parent(root, destination)
    try:
        src = os.open(src_name, _DIR_FLAGS, dir_fd=src_parent)
        dst = os.open(dst_name, _DIR_FLAGS, dir_fd=dst_parent)
        try:
            for entry in os.listdir(src):
                if entry in os.listdir(dst):
                    raise TreeError("%s/%s would replace %s/%s" % (source, entry, destination, entry))
                os.rename(entry, entry, src_dir_fd=src, dst_dir_fd=dst)
        finally:
            os.close(src)
            os.close(dst)
        os.rmdir(src_name, dir_fd=src_parent)
    finally:
        os.close(src_parent)
        os.close(dst_parent)


def _remove_entry(folder, name):
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(info.st_mode):
        raise TreeError("%s is a folder, not a file" % name)
    os.unlink(name, dir_fd=folder)
    return True
