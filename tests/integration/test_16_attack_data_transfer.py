"""Attacks on the data repository tasks, which root runs on the head node in /fsx (mode 1777).

A cluster user plants symbolic links under /fsx; the admin then runs playbooks/data_transfer.yml.
An import must not write through a link outside /fsx (the content is whatever the bucket's writers
chose), and an export must not upload a root-only file that a link points to."""

import os
import shutil
import stat
import tempfile
import uuid

import pytest

from helpers import emulator_clients, failed_tasks, playbook, run, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"
TASK = "Run the data repository task"


def _bucket(s3):
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("hpc-data-")]
    assert len(buckets) == 1, buckets
    return buckets[0]


def _snapshot(path):
    """Every entry below ``path`` with its content, mode and owner."""
    entries = {}
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(folder, name)
            info = os.lstat(full)
            content = None
            if stat.S_ISREG(info.st_mode):
                with open(full, "rb") as handle:
                    content = handle.read()
            entries[os.path.relpath(full, path)] = (content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return entries


def _transfer(*extra):
    rc, data = playbook("data_transfer.yml", *extra)
    assert rc == 0, failed_tasks(data)
    return task_results(data, TASK)[HOST]


@pytest.fixture
def scratch(cluster):
    """A root-only folder outside /fsx holding a root-only file, removed afterwards."""
    path = tempfile.mkdtemp(prefix="hpc-fsx-scratch-")
    os.chmod(path, 0o700)
    secret = os.path.join(path, "secret")
    with open(secret, "w") as handle:
        handle.write("root only %s\n" % uuid.uuid4().hex)
    os.chmod(secret, 0o600)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def planted(attacker):
    """A folder /fsx/<x> of the attacker's; removed afterwards with whatever the test put there."""
    name = "attack-%s" % uuid.uuid4().hex[:8]
    run(["mkdir", "/fsx/" + name], user=attacker)
    yield name
    shutil.rmtree("/fsx/" + name, ignore_errors=True)


@pytest.fixture
def s3_objects():
    """The bucket, and a list of keys the test adds, deleted afterwards."""
    (s3,) = emulator_clients("s3")
    bucket = _bucket(s3)
    added = []
    yield s3, bucket, added
    for key in added:
        s3.delete_object(Bucket=bucket, Key=key)


def test_import_does_not_write_through_a_planted_folder_link(attacker, scratch, planted, s3_objects):
    s3, bucket, added = s3_objects
    run(["ln", "-s", scratch, "/fsx/%s/y" % planted], user=attacker)
    run(["ln", "-s", os.path.join(scratch, "secret"), "/fsx/%s/file" % planted], user=attacker)
    before = _snapshot(scratch)
    for key in ("%s/y/planted.sh" % planted, "%s/y/deeper/planted.sh" % planted, "%s/file" % planted):
        s3.put_object(Bucket=bucket, Key=key, Body=b"#!/bin/sh\nchosen by the bucket's writer\n")
        added.append(key)

    check = _transfer("-e", "hpc_data_transfer=import", "-e", '{"hpc_data_transfer_paths": ["%s"]}' % planted, "--check")
    result = _transfer("-e", "hpc_data_transfer=import", "-e", '{"hpc_data_transfer_paths": ["%s"]}' % planted)

    assert _snapshot(scratch) == before
    for task in (check, result):
        assert task["task"]["files"] == [] and not task["changed"], task
        assert sorted(s["key"] for s in task["task"]["skipped"]) == sorted(added)
        assert all("symbolic link" in s["reason"] for s in task["task"]["skipped"])
    assert len([w for w in result["warnings"] if "not imported" in w]) == 3, result["warnings"]
    assert os.readlink("/fsx/%s/y" % planted) == scratch


def test_export_does_not_upload_a_root_only_file_behind_a_link(attacker, scratch, planted, s3_objects):
    s3, bucket, added = s3_objects
    secret = os.path.join(scratch, "secret")
    with open(secret, "rb") as handle:
        content = handle.read()
    leak = "/fsx/leak-%s" % planted
    run(["ln", "-s", secret, leak], user=attacker)
    run(["ln", "-s", scratch, "/fsx/%s/y" % planted], user=attacker)
    existing = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    try:
        # The whole file system, the link itself, and a file reached through a linked folder.
        results = [_transfer(), _transfer("-e", '{"hpc_data_transfer_paths": ["%s"]}' % leak),
                   _transfer("-e", '{"hpc_data_transfer_paths": ["%s/y/secret"]}' % planted)]
    finally:
        now = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
        added.extend(sorted(now - existing))
        os.unlink(leak)
    for key in added:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() != content, key
    skipped = [s["path"] for task in results for s in task["task"]["skipped"]]
    assert leak in skipped and "/fsx/%s/y" % planted in skipped and "/fsx/%s/y/secret" % planted in skipped, skipped
    assert not any(f["path"] in (leak, "/fsx/%s/y/secret" % planted) for task in results for f in task["task"]["files"])
