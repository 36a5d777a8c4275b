# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening a file that a less trusted user may name or replace, from a module that may run as root.

A job's output file and a batch script read for slurmrestd are both chosen, or replaceable, by a
cluster user, while the module reading them often runs as root. Reading through such a path must
not hand that user a root-only file (a symlink or hard link to /etc/shadow), hang on a FIFO, or
fill memory with a huge file: what is opened here is a regular file with an expected owner, never
reached through a symbolic link at its last component.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _kind(mode):
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a special file"


def open_owned(path, owners, whose, whole_path=False):
    """(binary file object, None) for ``path`` if it is a regular file owned by one of the uids
    ``owners``, else (None, why); ``whose`` names the owners for the message ("the job's user").

    The last component is never followed as a symlink and nothing but a regular file is opened
    for reading (on Linux an O_PATH handle is checked first, then reopened through /proc, so no
    swap can slip in between; elsewhere O_NONBLOCK keeps a FIFO from hanging the open). With
    ``whole_path`` a path that reaches its file through a symbolic link in any component is
    refused as well (Linux, where /proc tells which file was opened): owners that include root
    would otherwise accept any root file behind a directory link a user planted."""
    o_path = getattr(os, "O_PATH", 0)
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, (o_path or os.O_RDONLY) | flags)
    except OSError as exc:
        return None, "cannot be opened (%s)" % (exc.strerror or exc)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "is not a regular file (%s)" % _kind(info.st_mode)
        if info.st_uid not in owners:
            return None, "is owned by uid %d, not by %s" % (info.st_uid, whose)
        if o_path and whole_path:
            opened = os.readlink("/proc/self/fd/%d" % fd)
            if opened != os.path.normpath(os.path.abspath(path)):
                return None, "reaches %s through a symbolic link" % opened
        if o_path:
            read_fd = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            reopened = os.fstat(read_fd)
            if (reopened.st_ino, reopened.st_dev) != (info.st_ino, info.st_dev):
                os.close(read_fd)
                return None, "changed while it was opened"
        else:
            read_fd, fd = fd, None
        return os.fdopen(read_fd, "rb"), None
    except OSError as exc:
        return None, "cannot be read (%s)" % (exc.strerror or exc)
    finally:
        if fd is not None:
            os.close(fd)


def read_at_most(handle, limit):
    """The whole content of an opened file, or None when it holds more than ``limit`` bytes (only
    ``limit`` + 1 bytes are ever read, whatever the file claims its size is)."""
    data = handle.read(limit + 1)
    return None if len(data) > limit else data
