"""Moving an image's owners into an instance's id range: owners, set-id bits, ACL ids and file
capabilities all move, links are not followed, and a tree is never shifted twice."""

import os
import stat
import struct

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import id_shift

BASE = 0x70000000


def acl(*entries):
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


def test_acl_named_ids_move_and_others_stay():
    data = acl((0x01, 7, 0xFFFFFFFF), (0x08, 5, 4), (0x02, 6, 1000), (0x20, 5, 0xFFFFFFFF))
    assert id_shift.shift_acl(data, BASE) == acl((0x01, 7, 0xFFFFFFFF), (0x08, 5, BASE + 4), (0x02, 6, BASE + 1000),
                                                 (0x20, 5, 0xFFFFFFFF))


def test_acl_with_an_id_out_of_range_is_refused():
    with pytest.raises(id_shift.ShiftError):
        id_shift.shift_acl(acl((0x02, 6, 70000)), BASE)


def test_capabilities_become_version_3_with_the_namespace_root():
    v2 = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)
    v3 = id_shift.shift_caps(v2, BASE)
    assert struct.unpack("<IIIIII", v3) == (0x03000001, 1 << 13, 0, 0, 0, BASE)
    with pytest.raises(id_shift.ShiftError):
        id_shift.shift_caps(v3, BASE)


def test_tree(tmp_path):
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "home/user").mkdir(parents=True)
    sudo = root / "usr/bin/sudo"
    sudo.write_text("#!/bin/sh\n")
    os.chmod(sudo, 0o4755)
    os.chown(root / "home/user", 1000, 1000)
    outside = tmp_path / "outside"
    outside.write_text("host file")
    os.symlink(str(outside), str(root / "usr/bin/link"))
    os.link(str(sudo), str(root / "usr/bin/sudo-again"))
    count = id_shift.shift_tree(str(root), BASE)
    assert count == 7
    assert (os.stat(root).st_uid, os.stat(sudo).st_uid, os.stat(root / "home/user").st_uid) == (BASE, BASE, BASE + 1000)
    assert stat.S_IMODE(os.stat(sudo).st_mode) == 0o4755
    assert os.lstat(root / "usr/bin/link").st_uid == BASE and os.stat(outside).st_uid == 0
    with pytest.raises(id_shift.ShiftError, match="already shifted"):
        id_shift.shift_tree(str(root), BASE)


def test_acl_on_a_folder_moves(tmp_path):
    folder = tmp_path / "journal"
    folder.mkdir()
    os.setxattr(str(folder), "system.posix_acl_access", acl((0x01, 7, 0xFFFFFFFF), (0x04, 5, 0xFFFFFFFF),
                                                            (0x08, 5, 4), (0x10, 5, 0xFFFFFFFF),
                                                            (0x20, 5, 0xFFFFFFFF)))
    id_shift.shift_tree(str(folder), BASE)
    data = os.getxattr(str(folder), "system.posix_acl_access")
    assert (0x08, 5, BASE + 4) in [struct.unpack_from("<HHI", data, o) for o in range(4, len(data), 8)]


@pytest.mark.parametrize("base", [0, 1000, BASE + 1])
def test_base_must_be_a_whole_range_above_the_machines_ids(tmp_path, base):
    with pytest.raises(id_shift.ShiftError, match="multiple"):
        id_shift.shift_tree(str(tmp_path), base)
