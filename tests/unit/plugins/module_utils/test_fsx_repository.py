"""FSx for Lustre's import/export rules on the local provider, against an in-process S3 emulator."""

import json
import os

import boto3
import pytest
from moto import mock_aws

from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils import fsx_repository as fr
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_cluster import LocalClusterBackend
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths

BUCKET = "hpc-data-abc123-123456789012"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="input/input.txt", Body=b"Sample HPC input data\n")
        client.put_object(Bucket=BUCKET, Key="jobs/sample_job.sh", Body=b"#!/bin/bash\n")
        yield client


@pytest.fixture
def mount(tmp_path):
    path = tmp_path / "fsx"
    path.mkdir()
    return str(path)


def keys(s3, prefix=""):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(content)


def test_split_s3_path_normalises_the_prefix():
    assert fr.split_s3_path("s3://b/") == ("b", "")
    assert fr.split_s3_path("s3://b") == ("b", "")
    assert fr.split_s3_path("s3://b/output") == ("b", "output/")
    for bad in ("b/output", "s3:///x", ""):
        with pytest.raises(fr.RepositoryPathError):
            fr.split_s3_path(bad)


def test_relative_paths_refuse_escapes(mount):
    assert fr.relative_paths(mount, []) == [""]
    assert fr.relative_paths(mount, ["results/", "./a//b", mount + "/c"]) == ["results", "a/b", "c"]
    with pytest.raises(fr.RepositoryPathError, match=r"'\.\.'"):
        fr.relative_paths(mount, ["results/../../etc"])
    with pytest.raises(fr.RepositoryPathError, match="not below the mount point"):
        fr.relative_paths(mount, ["/etc/passwd"])


def test_import_copies_the_repository_once(s3, mount):
    moved, skipped = fr.import_objects(s3, "s3://%s/" % BUCKET, mount)
    assert sorted(m["key"] for m in moved) == ["input/input.txt", "jobs/sample_job.sh"] and skipped == []
    with open(os.path.join(mount, "input/input.txt")) as handle:
        assert handle.read() == "Sample HPC input data\n"
    assert fr.import_objects(s3, "s3://%s/" % BUCKET, mount) == ([], [])
    # Written through a temporary file: none is left behind.
    assert sorted(os.listdir(os.path.join(mount, "input"))) == ["input.txt"]


def test_import_brings_new_objects_and_keeps_local_changes(s3, mount):
    fr.import_objects(s3, "s3://%s/" % BUCKET, mount)
    write(os.path.join(mount, "jobs/sample_job.sh"), "#!/bin/bash\necho changed here\n")
    s3.put_object(Bucket=BUCKET, Key="input/more.dat", Body=b"42\n")
    dry = fr.import_objects(s3, "s3://%s/" % BUCKET, mount, paths=["input"], dry_run=True).moved
    assert [m["key"] for m in dry] == ["input/more.dat"]
    assert not os.path.exists(os.path.join(mount, "input/more.dat"))
    moved = fr.import_objects(s3, "s3://%s/" % BUCKET, mount).moved
    assert [m["key"] for m in moved] == ["input/more.dat"]
    with open(os.path.join(mount, "jobs/sample_job.sh")) as handle:
        assert "changed here" in handle.read()


def test_import_never_writes_outside_the_mount_point(s3, mount):
    s3.put_object(Bucket=BUCKET, Key="input/../../escape.txt", Body=b"x")
    fr.import_objects(s3, "s3://%s/" % BUCKET, mount)
    assert not os.path.exists(os.path.join(os.path.dirname(mount), "escape.txt"))


def test_export_writes_new_and_changed_files_only(s3, mount):
    fr.import_objects(s3, "s3://%s/" % BUCKET, mount)
    write(os.path.join(mount, "results/run 1/a.out"), "result a\n")
    export = "s3://%s/output/" % BUCKET
    dry = fr.export_files(s3, export, mount, import_path="s3://%s/" % BUCKET, dry_run=True).moved
    # The unchanged imports (input/, jobs/) are not exported, as on FSx.
    assert [m["key"] for m in dry] == ["output/results/run 1/a.out"]
    assert keys(s3, "output/") == []
    moved = fr.export_files(s3, export, mount, import_path="s3://%s/" % BUCKET).moved
    assert [m["key"] for m in moved] == ["output/results/run 1/a.out"]
    body = s3.get_object(Bucket=BUCKET, Key="output/results/run 1/a.out")["Body"].read()
    assert body == b"result a\n"
    assert fr.export_files(s3, export, mount, import_path="s3://%s/" % BUCKET) == ([], [])
    write(os.path.join(mount, "results/run 1/a.out"), "result a, second run\n")
    write(os.path.join(mount, "input/input.txt"), "edited input\n")
    moved = fr.export_files(s3, export, mount, import_path="s3://%s/" % BUCKET).moved
    assert sorted(m["key"] for m in moved) == ["output/input/input.txt", "output/results/run 1/a.out"]


def test_export_limited_to_paths_and_not_following_links(s3, mount, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("not for the bucket")
    write(os.path.join(mount, "results/a.out"), "a\n")
    write(os.path.join(mount, "scratch/b.out"), "b\n")
    os.symlink(str(secret), os.path.join(mount, "results/link"))
    moved, skipped = fr.export_files(s3, "s3://%s/output/" % BUCKET, mount, paths=["results"])
    assert [m["key"] for m in moved] == ["output/results/a.out"]
    assert [(s["path"], s["key"]) for s in skipped] == [(os.path.join(mount, "results/link"), None)]
    assert "symbolic link" in skipped[0]["reason"]
    with pytest.raises(fr.RepositoryPathError, match="does not exist"):
        fr.export_files(s3, "s3://%s/output/" % BUCKET, mount, paths=["nothing-here"])


def _backend(tmp_path, s3, config, status=cb.CREATE_COMPLETE):
    paths = LocalPaths(state=str(tmp_path / "state"))
    os.makedirs(paths.clusters)
    record = {"clusterName": "c1", "clusterStatus": status, "creationTime": "2026-11-24T03:21:28.000Z",
              "clusterConfiguration": config, "headNode": {}}
    with open(paths.record("c1"), "w") as handle:
        json.dump(record, handle)
    return LocalClusterBackend(run=None, instance_types=None, s3_client_factory=lambda: s3, paths=paths)


def _lustre(mount, name="fsx-storage", **settings):
    return {"Name": name, "StorageType": "FsxLustre", "MountDir": mount, "FsxLustreSettings": settings}


def test_backend_task_uses_the_clusters_paths(tmp_path, s3, mount):
    config = {"SharedStorage": [{"Name": "ebs", "StorageType": "Ebs", "MountDir": "/shared"},
                                _lustre(mount, ImportPath="s3://%s/" % BUCKET, ExportPath="s3://%s/output/" % BUCKET)]}
    backend = _backend(tmp_path, s3, config)
    write(os.path.join(mount, "results/a.out"), "a\n")
    task = backend.data_repository_task("c1", cb.EXPORT_TO_REPOSITORY, paths=["results"], check_mode=True)
    assert task["lifecycle"] == "PENDING" and task["total_count"] == 1 and task["succeeded_count"] == 0
    assert keys(s3, "output/") == []
    task = backend.data_repository_task("c1", cb.EXPORT_TO_REPOSITORY)
    assert task["repository_path"] == "s3://%s/output/" % BUCKET and task["succeeded_count"] == 1
    assert keys(s3, "output/") == ["output/results/a.out"]
    task = backend.data_repository_task("c1", cb.IMPORT_METADATA_FROM_REPOSITORY)
    assert task["type"] == cb.IMPORT_METADATA_FROM_REPOSITORY and task["total_count"] == 3


def test_backend_task_defaults_the_export_path_like_fsx(tmp_path, s3, mount):
    backend = _backend(tmp_path, s3, {"SharedStorage": [_lustre(mount, ImportPath="s3://%s/" % BUCKET)]})
    write(os.path.join(mount, "a.out"), "a\n")
    task = backend.data_repository_task("c1", cb.EXPORT_TO_REPOSITORY)
    assert task["repository_path"] == "s3://%s/FSxLustre20261124T032128Z/" % BUCKET
    assert "FSxLustre20261124T032128Z/a.out" in keys(s3)


@pytest.mark.parametrize("config, storage_name, message", [
    ({"SharedStorage": []}, None, "no FsxLustre shared storage"),
    ({"SharedStorage": [_lustre("/fsx", name="one", ImportPath="s3://b/"), _lustre("/fsx2", name="two")]}, None,
     "storage_name: the cluster has several FsxLustre file systems \\(one, two\\)"),
    ({"SharedStorage": [_lustre("/fsx", name="one", ImportPath="s3://b/")]}, "three",
     "storage_name: the cluster has no FsxLustre shared storage named three"),
    ({"SharedStorage": [_lustre("/fsx", name="one")]}, None, r"SharedStorage\[0\].FsxLustreSettings.ImportPath is not set"),
])
def test_backend_task_errors_name_the_field(tmp_path, s3, config, storage_name, message):
    backend = _backend(tmp_path, s3, config)
    with pytest.raises(cb.BackendError, match=message):
        backend.data_repository_task("c1", cb.EXPORT_TO_REPOSITORY, storage_name=storage_name)


def test_backend_task_needs_a_ready_cluster(tmp_path, s3, mount):
    backend = _backend(tmp_path, s3, {"SharedStorage": [_lustre(mount, ImportPath="s3://b/")]},
                       status=cb.CREATE_IN_PROGRESS)
    with pytest.raises(cb.BackendError, match="CREATE_IN_PROGRESS"):
        backend.data_repository_task("c1", cb.EXPORT_TO_REPOSITORY)
    with pytest.raises(cb.BackendError, match="does not exist"):
        backend.data_repository_task("other", cb.EXPORT_TO_REPOSITORY)


def test_bad_paths_fail_before_anything_moves(tmp_path, s3, mount):
    backend = _backend(tmp_path, s3, {"SharedStorage": [_lustre(mount, ImportPath="s3://%s/" % BUCKET)]})
    write(os.path.join(mount, "a.out"), "a\n")
    with pytest.raises(cb.BackendError, match=r"paths: .*'\.\.'"):
        backend.data_repository_task("c1", cb.EXPORT_TO_REPOSITORY, paths=["../etc"])
    assert [k for k in keys(s3) if k.startswith("FSxLustre")] == []


# The tasks run as root in a tree every user can write: nothing is reached through a link. ---------

IMPORT = "s3://%s/" % BUCKET
EXPORT = "s3://%s/output/" % BUCKET


@pytest.fixture
def outside(tmp_path):
    """A folder outside the mount point that holds a root-only file."""
    path = tmp_path / "outside"
    path.mkdir()
    secret = path / "secret"
    secret.write_text("root only\n")
    secret.chmod(0o600)
    return path


def tree(path):
    return sorted(os.path.relpath(os.path.join(d, f), str(path)) for d, dirs, files in os.walk(str(path))
                  for f in files + dirs)


def bodies(s3):
    return [s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3)]


@pytest.mark.parametrize("dry_run", [False, True])
def test_import_does_not_follow_a_linked_folder_on_the_way(s3, mount, outside, dry_run):
    os.makedirs(os.path.join(mount, "a"))
    os.symlink(str(outside), os.path.join(mount, "a/b"))
    s3.put_object(Bucket=BUCKET, Key="a/b/planted.sh", Body=b"chosen by the bucket's writer\n")
    s3.put_object(Bucket=BUCKET, Key="a/b/c/deeper.sh", Body=b"x\n")
    moved, skipped = fr.import_objects(s3, IMPORT, mount, dry_run=dry_run)
    assert tree(outside) == ["secret"]
    assert sorted(m["key"] for m in moved) == ["input/input.txt", "jobs/sample_job.sh"]
    assert [s["key"] for s in skipped] == ["a/b/c/deeper.sh", "a/b/planted.sh"]
    for entry in skipped:
        assert entry["reason"] == "%s/a/b is a symbolic link; links are not followed" % mount


def test_import_does_not_replace_a_link_at_the_files_name(s3, mount, outside):
    os.makedirs(os.path.join(mount, "input"))
    os.symlink(str(outside / "secret"), os.path.join(mount, "input/input.txt"))
    moved, skipped = fr.import_objects(s3, IMPORT, mount)
    assert [m["key"] for m in moved] == ["jobs/sample_job.sh"]
    assert [(s["key"], s["reason"]) for s in skipped] == [
        ("input/input.txt", "%s/input/input.txt is a symbolic link; the import does not replace it" % mount)]
    assert (outside / "secret").read_text() == "root only\n"
    assert os.path.islink(os.path.join(mount, "input/input.txt"))


def test_import_replaces_a_name_without_writing_through_it(s3, mount, outside):
    """A hard link at the file's name: the import renames a new file over the name, the other
    name keeps its content."""
    os.makedirs(os.path.join(mount, "input"))
    os.link(str(outside / "secret"), os.path.join(mount, "input/input.txt"))
    os.utime(str(outside / "secret"), (0, 0))
    moved = fr.import_objects(s3, IMPORT, mount).moved
    assert "input/input.txt" in [m["key"] for m in moved]
    assert (outside / "secret").read_text() == "root only\n"
    with open(os.path.join(mount, "input/input.txt")) as handle:
        assert handle.read() == "Sample HPC input data\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_import_does_not_replace_another_users_file(s3, mount):
    write(os.path.join(mount, "input/input.txt"), "the user's own data\n")
    os.chown(os.path.join(mount, "input/input.txt"), 65534, 65534)
    os.utime(os.path.join(mount, "input/input.txt"), (0, 0))
    moved, skipped = fr.import_objects(s3, IMPORT, mount)
    assert [m["key"] for m in moved] == ["jobs/sample_job.sh"]
    assert len(skipped) == 1 and "belongs to" in skipped[0]["reason"] and "another user's file" in skipped[0]["reason"]
    with open(os.path.join(mount, "input/input.txt")) as handle:
        assert handle.read() == "the user's own data\n"


def test_import_leaves_folders_and_special_files_alone(s3, mount):
    os.makedirs(os.path.join(mount, "input/input.txt"))
    os.makedirs(os.path.join(mount, "jobs"))
    os.mkfifo(os.path.join(mount, "jobs/sample_job.sh"))
    moved, skipped = fr.import_objects(s3, IMPORT, mount)
    assert moved == []
    assert sorted(s["reason"] for s in skipped) == [
        "%s/input/input.txt is not a regular file" % mount, "%s/jobs/sample_job.sh is not a regular file" % mount]


def test_import_does_not_follow_a_linked_selected_path(s3, mount, outside):
    os.symlink(str(outside), os.path.join(mount, "input"))
    s3.put_object(Bucket=BUCKET, Key="input/more.dat", Body=b"42\n")
    moved, skipped = fr.import_objects(s3, IMPORT, mount, paths=["input"])
    assert moved == [] and sorted(s["key"] for s in skipped) == ["input/input.txt", "input/more.dat"]
    assert tree(outside) == ["secret"]


@pytest.mark.parametrize("key, reason", [
    ("../escape.txt", "'..'"),
    ("input/../../escape.txt", "'..'"),
    ("input/./x.txt", "'.'"),
    ("input//x.txt", "empty"),
    ("/escape.txt", "absolute"),
    ("input/nul\x00.txt", "NUL or control character"),
    ("input/bell\x07.txt", "NUL or control character"),
    ("input/new\nline.txt", "NUL or control character"),
    ("input/" + "x" * 256, "longer than 255 bytes"),
])
def test_import_skips_keys_that_cannot_be_file_names(s3, mount, tmp_path, key, reason):
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    moved, skipped = fr.import_objects(s3, IMPORT, mount)
    assert sorted(m["key"] for m in moved) == ["input/input.txt", "jobs/sample_job.sh"]
    assert [s["key"] for s in skipped] == [key] and reason in skipped[0]["reason"], skipped
    assert tree(tmp_path) == ["fsx", "fsx/input", "fsx/input/input.txt", "fsx/jobs", "fsx/jobs/sample_job.sh"]


def test_export_does_not_follow_links(s3, mount, outside):
    write(os.path.join(mount, "results/a.out"), "a\n")
    os.symlink(str(outside / "secret"), os.path.join(mount, "leak"))
    os.symlink(str(outside), os.path.join(mount, "results/linked-folder"))
    os.makedirs(os.path.join(mount, "x"))
    os.symlink(str(outside), os.path.join(mount, "x/y"))
    moved, skipped = fr.export_files(s3, EXPORT, mount)
    assert [m["key"] for m in moved] == ["output/results/a.out"]
    assert sorted(s["path"] for s in skipped) == [os.path.join(mount, p) for p in ("leak", "results/linked-folder", "x/y")]
    assert all("symbolic link" in s["reason"] for s in skipped)
    assert b"root only\n" not in bodies(s3)


@pytest.mark.parametrize("selected", ["x/y", "x/y/secret", "leak", "x"])
def test_export_of_a_path_through_a_link_reads_nothing(s3, mount, outside, selected):
    os.makedirs(os.path.join(mount, "x"))
    os.symlink(str(outside), os.path.join(mount, "x/y"))
    os.symlink(str(outside / "secret"), os.path.join(mount, "leak"))
    moved, skipped = fr.export_files(s3, EXPORT, mount, paths=[selected])
    assert moved == [] and len(skipped) == 1 and "symbolic link" in skipped[0]["reason"], skipped
    assert b"root only\n" not in bodies(s3)


def test_export_skips_special_files_and_names_that_cannot_be_keys(s3, mount):
    write(os.path.join(mount, "results/a.out"), "a\n")
    os.mkfifo(os.path.join(mount, "results/pipe"))
    write(os.path.join(mount, "results/bad\nname"), "b\n")
    deep = os.path.join(mount, "results", *["d" * 200] * 5)
    write(os.path.join(deep, "too-long.out"), "c\n")
    moved, skipped = fr.export_files(s3, EXPORT, mount)  # the FIFO must not hang the task
    assert [m["key"] for m in moved] == ["output/results/a.out"]
    reasons = sorted(s["reason"] for s in skipped)
    assert len(reasons) == 3, reasons
    assert "control character" in reasons[0] and "S3's 1024 bytes" in reasons[1] and "not a regular file" in reasons[2]


def test_mount_point_through_a_link_is_refused(s3, tmp_path, outside):
    link = tmp_path / "fsx-link"
    link.symlink_to(outside)
    with pytest.raises(fr.MountPointError, match="fsx-link is a symbolic link"):
        fr.export_files(s3, EXPORT, str(link))
    with pytest.raises(fr.MountPointError, match="fsx-link is a symbolic link"):
        fr.import_objects(s3, IMPORT, str(link / "sub"))
    assert tree(outside) == ["secret"] and keys(s3, "output/") == []


def test_backend_reports_a_linked_mount_point_by_its_field(tmp_path, s3, outside):
    link = tmp_path / "fsx-link"
    link.symlink_to(outside)
    backend = _backend(tmp_path, s3, {"SharedStorage": [_lustre(str(link), ImportPath=IMPORT)]})
    with pytest.raises(cb.BackendError, match=r"SharedStorage\[0\]\.MountDir: mount point .* is a symbolic link"):
        backend.data_repository_task("c1", cb.IMPORT_METADATA_FROM_REPOSITORY)
    assert tree(outside) == ["secret"]


def test_backend_task_lists_what_it_skipped(tmp_path, s3, mount, outside):
    backend = _backend(tmp_path, s3, {"SharedStorage": [_lustre(mount, ImportPath=IMPORT)]})
    os.symlink(str(outside / "secret"), os.path.join(mount, "leak"))
    task = backend.data_repository_task("c1", cb.EXPORT_TO_REPOSITORY)
    assert task["files"] == [] and [s["path"] for s in task["skipped"]] == [os.path.join(mount, "leak")]


def test_relative_paths_refuse_names_that_cannot_be_files(mount):
    with pytest.raises(fr.RepositoryPathError, match="control character"):
        fr.relative_paths(mount, ["results/\x01"])
