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
    moved = fr.import_objects(s3, "s3://%s/" % BUCKET, mount)
    assert sorted(m["key"] for m in moved) == ["input/input.txt", "jobs/sample_job.sh"]
    with open(os.path.join(mount, "input/input.txt")) as handle:
        assert handle.read() == "Sample HPC input data\n"
    assert fr.import_objects(s3, "s3://%s/" % BUCKET, mount) == []


def test_import_brings_new_objects_and_keeps_local_changes(s3, mount):
    fr.import_objects(s3, "s3://%s/" % BUCKET, mount)
    write(os.path.join(mount, "jobs/sample_job.sh"), "#!/bin/bash\necho changed here\n")
    s3.put_object(Bucket=BUCKET, Key="input/more.dat", Body=b"42\n")
    dry = fr.import_objects(s3, "s3://%s/" % BUCKET, mount, paths=["input"], dry_run=True)
    assert [m["key"] for m in dry] == ["input/more.dat"]
    assert not os.path.exists(os.path.join(mount, "input/more.dat"))
    moved = fr.import_objects(s3, "s3://%s/" % BUCKET, mount)
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
    dry = fr.export_files(s3, export, mount, import_path="s3://%s/" % BUCKET, dry_run=True)
    # The unchanged imports (input/, jobs/) are not exported, as on FSx.
    assert [m["key"] for m in dry] == ["output/results/run 1/a.out"]
    assert keys(s3, "output/") == []
    moved = fr.export_files(s3, export, mount, import_path="s3://%s/" % BUCKET)
    assert [m["key"] for m in moved] == ["output/results/run 1/a.out"]
    body = s3.get_object(Bucket=BUCKET, Key="output/results/run 1/a.out")["Body"].read()
    assert body == b"result a\n"
    assert fr.export_files(s3, export, mount, import_path="s3://%s/" % BUCKET) == []
    write(os.path.join(mount, "results/run 1/a.out"), "result a, second run\n")
    write(os.path.join(mount, "input/input.txt"), "edited input\n")
    moved = fr.export_files(s3, export, mount, import_path="s3://%s/" % BUCKET)
    assert sorted(m["key"] for m in moved) == ["output/input/input.txt", "output/results/run 1/a.out"]


def test_export_limited_to_paths_and_not_following_links(s3, mount, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("not for the bucket")
    write(os.path.join(mount, "results/a.out"), "a\n")
    write(os.path.join(mount, "scratch/b.out"), "b\n")
    os.symlink(str(secret), os.path.join(mount, "results/link"))
    moved = fr.export_files(s3, "s3://%s/output/" % BUCKET, mount, paths=["results"])
    assert [m["key"] for m in moved] == ["output/results/a.out"]
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
