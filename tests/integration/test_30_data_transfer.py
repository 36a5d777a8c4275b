"""The recipe's data path (step 11) on the local provider: an object put in the bucket reaches /fsx
through an import task, a Slurm job reads it and writes its result under /fsx, and the export task
makes the result an object under the bucket's ExportPath (output/). All through the emulator's S3 API."""

import os
import shutil
import uuid

import pytest

from helpers import accounted_state, changed_tasks, emulator_clients, failed_tasks, playbook, run, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"


@pytest.fixture(scope="module")
def run_dir(cluster):
    """A results directory of this run under /fsx, removed afterwards."""
    name = "results-%s" % uuid.uuid4().hex[:8]
    yield name
    shutil.rmtree(os.path.join("/fsx", name), ignore_errors=True)


def _bucket(s3):
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("hpc-data-")]
    assert len(buckets) == 1, buckets
    return buckets[0]


def _transfer(*extra):
    rc, data = playbook("data_transfer.yml", *extra)
    assert rc == 0, failed_tasks(data)
    return data, task_results(data, "Run the data repository task")[HOST]


def test_job_reads_bucket_data_and_its_result_is_exported(run_dir):
    (s3,) = emulator_clients("s3")
    bucket = _bucket(s3)
    key = "input/%s.dat" % run_dir
    s3.put_object(Bucket=bucket, Key=key, Body=b"3 4 5\n")

    import_input = ("-e", "hpc_data_transfer=import", "-e", '{"hpc_data_transfer_paths": ["input"]}')
    _data, check = _transfer(*import_input, "--check")
    assert [f["key"] for f in check["task"]["files"]] == [key]
    assert not os.path.exists("/fsx/" + key)

    _data, imported = _transfer(*import_input)
    assert imported["changed"] and [f["path"] for f in imported["task"]["files"]] == ["/fsx/" + key]

    # The job runs as the cluster's user on a compute node and reads both the file hydrated at
    # create (the recipe's input.txt) and the one imported now.
    os.makedirs("/fsx/%s" % run_dir, mode=0o777)
    os.chmod("/fsx/%s" % run_dir, 0o1777)
    script = ("set -e; sum=0; for n in $(cat /fsx/%s); do sum=$((sum + n)); done; "
              "{ head -n1 /fsx/input/input.txt; echo \"sum=$sum\"; hostname; } > /fsx/%s/result.out"
              % (key, run_dir))
    job = run(["sbatch", "--parsable", "--wait", "--job-name=data-transfer-it", "--output=/dev/null",
               "--chdir=/tmp", "--wrap", script], user="ec2-user", timeout=240)
    job_id = job.stdout.strip().split(";")[0]
    with open("/fsx/%s/result.out" % run_dir) as handle:
        lines = handle.read().splitlines()
    assert lines[0] == "Sample HPC input data" and lines[1] == "sum=12", lines
    assert lines[2].startswith("compute-"), lines
    assert accounted_state(job_id) == "COMPLETED"

    data, exported = _transfer("-e", '{"hpc_data_transfer_paths": ["%s"]}' % run_dir)
    expected = "output/%s/result.out" % run_dir
    assert [f["key"] for f in exported["task"]["files"]] == [expected], exported
    body = s3.get_object(Bucket=bucket, Key=expected)["Body"].read().decode()
    assert body.splitlines()[1] == "sum=12"

    # A second export of everything finds nothing new: the imports are unchanged, the result is there.
    data, again = _transfer()
    assert again["task"]["files"] == [] and changed_tasks(data) == []
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_object(Bucket=bucket, Key=expected)
    os.remove("/fsx/" + key)


def test_a_path_outside_the_file_system_is_refused(cluster):
    rc, data = playbook("data_transfer.yml", "-e", '{"hpc_data_transfer_paths": ["../etc"]}')
    assert rc != 0
    failures = failed_tasks(data)
    assert len(failures) == 1 and "paths:" in failures[0] and "'..'" in failures[0], failures
