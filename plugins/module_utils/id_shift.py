# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a tree's owners into the id range an instance's user namespace maps.

An instance runs in a user namespace whose ids 0..65535 are this machine's ``base``..``base+65535``,
so its root is no one on the machine (it cannot write the machine's kernel settings, load modules
or reach files of the machine's root). Its image must then be owned by the shifted ids: every
entry's owner and group move by ``base``, and so do the ids inside POSIX ACLs and file
capabilities (written as version 3, whose root id is the namespace's root). A chown clears the
set-user-id and set-group-id bits, so they are put back. Links are never followed.
"""

from __future__ import annotations

import os
import stat
import struct

RANGE = 65536
ACL_XATTRS = ("system.posix_acl_access", "system.posix_acl_default")
CAPS_XATTR = "security.capability"
_ACL_VERSION = 2
_ACL_USER, _ACL_GROUP = 0x02, 0x08
_CAPS_V2, _CAPS_V3 = 0x02000000, 0x03000000
_CAPS_REVISION_MASK = 0xFF000000


class ShiftError(ValueError):
    pass


def shift_acl(data, base):
    """A POSIX ACL xattr with its named user and group ids moved by ``base``."""
    if len(data) < 4 or (len(data) - 4) % 8 or struct.unpack_from("<I", data)[0] != _ACL_VERSION:
        raise ShiftError("not a version 2 POSIX ACL")
    out = bytearray(data[:4])
    for offset in range(4, len(data), 8):
        tag, perm, ident = struct.unpack_from("<HHI", data, offset)
        if tag in (_ACL_USER, _ACL_GROUP):
            if ident >= RANGE:
                raise ShiftError("ACL id %d is outside the range an instance maps" % ident)
            ident += base
        out += struct.pack("<HHI", tag, perm, ident)
    return bytes(out)


def shift_caps(data, base):
    """File capabilities as version 3 (the root id of the user namespace that runs them: ``base``)."""
    if len(data) < 4:
        raise ShiftError("file capabilities too short")
    magic = struct.unpack_from("<I", data)[0]
    revision = magic & _CAPS_REVISION_MASK
    if revision == _CAPS_V2 and len(data) == 20:
        body = data[4:20]
    elif revision == _CAPS_V3 and len(data) == 24:
        if struct.unpack_from("<I", data, 20)[0] != 0:
            raise ShiftError("file capabilities already belong to a user namespace")
        body = data[4:20]
    else:
        raise ShiftError("file capabilities of an unknown revision %#x" % revision)
    flags = magic & ~_CAPS_REVISION_MASK
    return struct.pack("<I", _CAPS_V3 | flags) + body + struct.pack("<I", base)


def shift_entry(path, info, base):
    if info.st_uid >= RANGE or info.st_gid >= RANGE:
        raise ShiftError("%s is owned by %d:%d, outside the range an instance maps (already shifted?)"
                         % (path, info.st_uid, info.st_gid))
    link = stat.S_ISLNK(info.st_mode)
    saved = {}
    if not link:
        for name in ACL_XATTRS + (CAPS_XATTR,):
            try:
                saved[name] = os.getxattr(path, name, follow_symlinks=False)
            except OSError:
                continue
    os.lchown(path, info.st_uid + base, info.st_gid + base)
    if link:
        return
    if info.st_mode & (stat.S_ISUID | stat.S_ISGID):
        os.chmod(path, stat.S_IMODE(info.st_mode), follow_symlinks=False)
    for name, data in saved.items():
        shifted = shift_caps(data, base) if name == CAPS_XATTR else shift_acl(data, base)
        os.setxattr(path, name, shifted, follow_symlinks=False)


def shift_tree(root, base):
    """Move every owner in the tree ``root`` (one file system, links not followed) by ``base``;
    the number of entries shifted."""
    if base < RANGE or base % RANGE:
        raise ShiftError("base %d must be a multiple of %d above the machine's own ids" % (base, RANGE))
    device = os.lstat(root).st_dev
    count = 0
    linked = set()
    for folder, subfolders, files in os.walk(root):
        # Entries of another file system (a mount left inside) are not the image's.
        subfolders[:] = [d for d in subfolders if os.lstat(os.path.join(folder, d)).st_dev == device]
        for name in subfolders + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            # A file with several names (hard links) is shifted once.
            if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
                if info.st_ino in linked:
                    continue
                linked.add(info.st_ino)
            shift_entry(path, info, base)
            count += 1
    shift_entry(root, os.lstat(root), base)
    return count + 1
