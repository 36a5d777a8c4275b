"""The hpc_stack role (recipe step 7) and the job_tools role (recipe steps 11 and 12) on the running
local cluster: the roles converge and a second run changes nothing; `module load mpi/openmpi` works
in batch scripts on the compute nodes whether the job was submitted from a login shell or not;
an MPI program built with mpicc runs with mpirun on two nodes; the recipe's scripts are
shellcheck-clean, submit-hpc-job.sh checks its arguments and surfaces sbatch's refusals, and
data-transfer.sh moves files between the emulator's bucket and /fsx as the cluster's user."""

import concurrent.futures
import glob
import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import uuid

import pytest

from helpers import ROOT, SLURM_ENV, accounted_state, changed_tasks, emulator_clients, failed_tasks, home_of, playbook, run, wait_until

pytestmark = pytest.mark.integration

USER = "ec2-user"
PLAYBOOK = os.path.join(ROOT, "tests", "integration", "playbooks", "hpc_stack_job_tools.yml")
JOBS = "/shared/jobs"
SCRIPTS = ("submit-hpc-job.sh", "monitor-jobs.sh", "data-transfer.sh", "checkpoint-run.sh")
MODULEFILE = "/etc/environment-modules/modules/mpi/openmpi"
MPI_HOME = "/usr/lib/%s-linux-gnu/openmpi" % os.uname().machine
# What a shell that did not source the Modules init has none of.
MODULE_VARS = ("BASH_ENV", "MODULEPATH", "MODULESHOME", "LOADEDMODULES", "MODULES_CMD", "__MODULES_LMINIT")
# The recipe's MPI test job (step 10).
RECIPE_MPI_TEST = """#!/bin/bash
#SBATCH --job-name=mpi-test
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --time=00:05:00
#SBATCH --output=/shared/jobs/mpi-test-%j.out
#SBATCH --error=/shared/jobs/mpi-test-%j.err

module load mpi/openmpi

echo "Starting MPI test job at $(date)"
echo "Running on nodes: $SLURM_JOB_NODELIST"

mpirun -np $SLURM_NTASKS hostname

echo "MPI test completed at $(date)"
"""


def _bucket():
    (s3,) = emulator_clients("s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("hpc-data-")]
    assert len(buckets) == 1, buckets
    return buckets[0]


def _apply(*extra):
    return playbook(PLAYBOOK, "-e", "job_tools_bucket=" + _bucket(), *extra, timeout=900)


def _bare_env(**extra):
    """This process's environment without anything Environment Modules puts there: what a
    non-login shell (runuser -u from a service, cron, Ansible) submits with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASH_FUNC_") and k not in MODULE_VARS}
    env.update(SLURM_ENV)
    env.update(extra)
    return env


def _as_user(args, env=None, timeout=300):
    """``runuser -u ec2-user -- args`` with the given environment (default: a bare one)."""
    return subprocess.run(["runuser", "-u", USER, "--", *args], env=env or _bare_env(), capture_output=True,
                          text=True, timeout=timeout, check=False, cwd=home_of(USER))


def _write(path, text, mode=0o644):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    user = pwd.getpwnam(USER)
    os.chown(path, user.pw_uid, user.pw_gid)


@pytest.fixture(scope="module")
def applied(cluster):
    rc, data = _apply()
    assert rc == 0, failed_tasks(data)
    return data


@pytest.fixture(scope="module")
def work(applied):
    """This run's directory under /shared/jobs (owned by ec2-user) and the ids of the jobs it
    submits; both go afterwards, with the output_<id>.log and error_<id>.log files."""
    path = os.path.join(JOBS, "it-40-%s" % uuid.uuid4().hex[:8])
    os.mkdir(path)
    user = pwd.getpwnam(USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    jobs = []
    yield path, jobs
    shutil.rmtree(path, ignore_errors=True)
    for job_id in jobs:
        for name in glob.glob(os.path.join(JOBS, "*_%s.log" % job_id)):
            os.remove(name)


def test_second_run_and_check_mode_change_nothing(applied):
    rc, data = _apply()
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []
    rc, data = _apply("--check")
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []


def test_the_bucket_is_required(cluster):
    rc, data = playbook(PLAYBOOK, "-e", "job_tools_bucket=", timeout=900)
    assert rc != 0
    failures = failed_tasks(data)
    assert len(failures) == 1 and "Check the bucket of data-transfer.sh" in failures[0], failures
    assert "job_tools_bucket must name the cluster's S3 bucket" in failures[0]


def test_files_modes_and_owners(applied):
    uid, gid = pwd.getpwnam(USER).pw_uid, grp.getgrnam(USER).gr_gid
    info = os.stat(JOBS)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, 0o755)
    for name in SCRIPTS:
        info = os.stat(os.path.join(JOBS, name))
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, 0o755), name
    for path in ("/fsx/input", "/fsx/output"):
        info = os.stat(path)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (uid, 0o755), path

    info = os.stat(MODULEFILE)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o644)
    with open(MODULEFILE) as handle:
        modulefile = handle.read()
    assert modulefile.startswith("#%Module1.0\n")
    for line in ("module-whatis \"OpenMPI MPI implementation\"", "set root " + MPI_HOME, "prepend-path PATH /usr/bin",
                 "prepend-path LD_LIBRARY_PATH %s/lib" % MPI_HOME, "prepend-path MANPATH /usr/share/man",
                 "setenv MPI_HOME $root"):
        assert line in modulefile.splitlines(), line
    # The directory is the one Debian's Environment Modules puts first on MODULEPATH.
    with open("/etc/environment-modules/modulespath") as handle:
        assert os.path.dirname(os.path.dirname(MODULEFILE)) in handle.read().split()

    with open("/opt/slurm/etc/plugstack.conf.d/hpc_stack.conf") as handle:
        assert "optional /usr/local/lib/hpc-stack/hpc_stack_bash_env.so /usr/local/lib/hpc-stack/module-init.bash" in handle.read()
    with open("/opt/slurm/etc/plugstack.conf") as handle:
        assert "include /opt/slurm/etc/plugstack.conf.d/*" in handle.read().splitlines()


def test_scripts_are_shellcheck_clean_and_hold_no_credentials(applied):
    paths = [os.path.join(JOBS, name) for name in SCRIPTS]
    proc = run(["shellcheck", "--severity=style", *paths], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run(["shellcheck", "--shell=bash", "/usr/local/lib/hpc-stack/module-init.bash"], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(JOBS, "data-transfer.sh")) as handle:
        text = handle.read()
    assert "--endpoint-url http://127.0.0.1:5000" in text and "--region us-east-1" in text
    assert "BUCKET=%s\n" % _bucket() in text
    assert "testing" not in text and "AWS_SECRET" not in text and "aws_secret" not in text


def test_module_load_works_in_batch_jobs_however_submitted(work):
    """A non-login submission (runuser -u with a bare environment) carries no `module` function;
    a login one (su -) does. The job gets it either way, from the BASH_ENV the role's SPANK plugin
    sets: a job that brings its own (empty) BASH_ENV keeps it, and then has no `module`."""
    path, jobs = work
    script = os.path.join(path, "module-load.sh")
    _write(script, "#!/bin/bash\nmodule load mpi/openmpi\necho \"MPI_HOME=$MPI_HOME\"\ncommand -v mpirun\n", 0o755)
    sbatch = ["sbatch", "--parsable", "--wait", "--nodes=1", "--time=00:05:00", "--output=%s/module-load-%%j.out" % path,
              "--chdir=/tmp", script]
    login = "SLURM_CONF=%s %s" % (SLURM_ENV["SLURM_CONF"], shlex.join(sbatch))

    def submit(how):
        if how == "runuser":
            return _as_user(sbatch)
        if how == "own BASH_ENV":
            return _as_user(sbatch, env=_bare_env(BASH_ENV=""))
        return subprocess.run(["su", "-", USER, "-c", login], env=_bare_env(), capture_output=True, text=True,
                              timeout=300, check=False)

    ways = ("runuser", "su", "own BASH_ENV")
    with concurrent.futures.ThreadPoolExecutor(len(ways)) as pool:
        results = dict(zip(ways, pool.map(submit, ways)))
    outputs = {}
    for how, proc in results.items():
        assert proc.returncode == 0, (how, proc.stdout, proc.stderr)
        job_id = proc.stdout.strip().split(";")[0]
        jobs.append(job_id)
        with open(os.path.join(path, "module-load-%s.out" % job_id)) as handle:
            outputs[how] = handle.read()
    for how in ("runuser", "su"):
        assert outputs[how].splitlines() == ["MPI_HOME=" + MPI_HOME, "/usr/bin/mpirun"], (how, outputs[how])
    assert "module: command not found" in outputs["own BASH_ENV"], outputs["own BASH_ENV"]
    assert "MPI_HOME=\n" in outputs["own BASH_ENV"], outputs["own BASH_ENV"]


def test_mpi_program_built_with_mpicc_runs_with_mpirun_on_two_nodes(work):
    path, jobs = work
    shutil.copy(os.path.join(ROOT, "playbooks", "files", "mpi_smoke_test.c"), os.path.join(path, "mpi_hello.c"))
    script = os.path.join(path, "mpi-hello.sh")
    _write(script, "#!/bin/bash\nset -e\nmodule load mpi/openmpi\n"
           "mpicc -O2 -o %(p)s/mpi_hello %(p)s/mpi_hello.c\n"
           "mpirun -np \"$SLURM_NTASKS\" %(p)s/mpi_hello\n" % {"p": path}, 0o755)
    proc = _as_user(["sbatch", "--parsable", "--wait", "--nodes=2", "--ntasks-per-node=1", "--time=00:05:00",
                     "--output=%s/mpi-hello-%%j.out" % path, "--chdir=%s" % path, script])
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    job_id = proc.stdout.strip().split(";")[0]
    jobs.append(job_id)
    with open(os.path.join(path, "mpi-hello-%s.out" % job_id)) as handle:
        lines = sorted(handle.read().splitlines())
    assert len(lines) == 2, lines
    hosts = set()
    for rank, line in enumerate(lines):
        match = re.match(r"rank %d of 2 on (compute-\S+): allreduce sum 1 \(expected 1\)$" % rank, line)
        assert match, lines
        hosts.add(match.group(1))
    assert len(hosts) == 2, lines


def test_submit_wrapper_surfaces_slurms_refusal_of_the_recipes_mpi_test(work):
    """The recipe's 2 nodes x 4 tasks: the local nodes have one CPU each, so sbatch refuses it."""
    path, _jobs = work
    script = os.path.join(path, "mpi-test.sh")
    _write(script, RECIPE_MPI_TEST)
    proc = _as_user([os.path.join(JOBS, "submit-hpc-job.sh"), script, "2", "4", "00:05:00"])
    assert proc.returncode != 0
    assert "sbatch: error:" in proc.stderr, proc.stderr
    assert "submit-hpc-job.sh: sbatch did not accept the job" in proc.stderr
    assert "Job submitted" not in proc.stdout


def test_submit_wrapper_runs_a_job_that_fits(work):
    """The same script with one task per node, from a path with a space: it runs and completes."""
    path, jobs = work
    script = os.path.join(path, "recipe mpi-test.sh")
    _write(script, RECIPE_MPI_TEST)
    proc = _as_user([os.path.join(JOBS, "submit-hpc-job.sh"), script, "2", "1", "00:05:00"])
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    match = re.search(r"^Submitted batch job (\d+)$", proc.stdout, re.M)
    assert match, proc.stdout
    job_id = match.group(1)
    jobs.append(job_id)
    assert "Job submitted with 2 nodes, 1 tasks per node" in proc.stdout
    assert "JOBID" in proc.stdout  # squeue's header

    state = accounted_state(job_id, timeout=300)
    assert state == "COMPLETED"
    # slurmdbd can lag behind slurmctld: until the job's record arrives, sacct names it "allocation".
    row = wait_until(lambda: [line for line in run(["sacct", "-n", "-X", "-P", "-j", job_id,
                                                    "--format=JobName,NNodes,NTasks,AllocCPUS,ExitCode"]).stdout.splitlines()
                              if line.startswith("mpi-test|")], timeout=60, interval=2, what="the accounting record")[0]
    assert row.split("|")[:2] == ["mpi-test", "2"] and row.strip().endswith("|0:0"), row
    # Output and errors go where the wrapper says, not where the script's #SBATCH lines do.
    with open(os.path.join(JOBS, "output_%s.log" % job_id)) as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("Starting MPI test job at ") and lines[-1].startswith("MPI test completed at ")
    assert sorted(lines[2:-1]) == sorted(set(lines[2:-1])) and len(lines[2:-1]) == 2, lines
    assert all(host.startswith("compute-") for host in lines[2:-1]), lines
    assert os.path.getsize(os.path.join(JOBS, "error_%s.log" % job_id)) == 0
    assert not os.path.exists(os.path.join(JOBS, "mpi-test-%s.out" % job_id))


def test_the_buckets_sample_job_runs_unchanged_through_the_wrapper(work):
    """jobs/sample_job.sh from the bucket (on /fsx by its ImportPath) loads `openmpi` and runs mpirun."""
    _path, jobs = work
    sample = "/fsx/jobs/sample_job.sh"
    with open(sample) as handle:
        assert "module load openmpi" in handle.read()
    proc = _as_user([os.path.join(JOBS, "submit-hpc-job.sh"), sample, "2", "1", "00:05:00"])
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    job_id = re.search(r"^Submitted batch job (\d+)$", proc.stdout, re.M).group(1)
    jobs.append(job_id)
    state = accounted_state(job_id, timeout=300)
    assert state == "COMPLETED"
    with open(os.path.join(JOBS, "output_%s.log" % job_id)) as handle:
        hosts = handle.read().split()
    assert len(hosts) == 2 and all(h.startswith("compute-") for h in hosts), hosts
    with open(os.path.join(JOBS, "error_%s.log" % job_id)) as handle:
        assert handle.read() == ""


@pytest.mark.parametrize("args, message", [
    ([], "Usage: submit-hpc-job.sh <job-script> [nodes] [tasks-per-node] [time]"),
    (["{script}", "abc"], "nodes must be a positive integer, not 'abc'"),
    (["{script}", "0"], "nodes must be a positive integer, not '0'"),
    (["{script}", "2", "-1"], "tasks-per-node must be a positive integer, not '-1'"),
    (["{script}", "1", "1", "1;rm -rf /"], "time must be a Slurm time limit"),
    (["{script}", "1", "1", "$(id)"], "time must be a Slurm time limit"),
    (["{script}", "1", "1", "00:05:00", "extra"], "Usage: submit-hpc-job.sh"),
    (["{path}/missing.sh"], "is not a readable file"),
], ids=["no-args", "nodes-abc", "nodes-0", "tasks-negative", "time-injection", "time-substitution", "extra-arg",
        "missing-script"])
def test_submit_wrapper_refuses_bad_input(work, args, message):
    path, _jobs = work
    name = "bad-%s.sh" % uuid.uuid4().hex[:8]
    script = os.path.join(path, name)
    _write(script, "#!/bin/bash\nhostname\n")
    proc = _as_user([os.path.join(JOBS, "submit-hpc-job.sh"), *[a.format(script=script, path=path) for a in args]])
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert "sbatch" not in proc.stderr and proc.stdout == ""
    assert run(["squeue", "-h", "-u", USER, "-n", name]).stdout == ""
    assert run(["sacct", "-n", "-X", "-u", USER, "--name", name, "--starttime", "2000-01-01"]).stdout == ""


def test_monitor_jobs_shows_the_recipes_sections(work):
    proc = _as_user([os.path.join(JOBS, "monitor-jobs.sh")])
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    out = proc.stdout
    titles = re.findall(r"^=== (.+) ===$", out, re.M)
    assert titles == ["Active Jobs", "Node Status", "Recent Job History", "Cluster Utilization"], out
    sections = re.split(r"^=== .+ ===$\n", out, flags=re.M)[1:]
    assert sections[0].split()[:4] == ["JOBID", "PARTITION", "NAME", "USER"]
    assert sections[1].split()[:6] == ["PARTITION", "AVAIL", "TIMELIMIT", "NODES", "STATE", "NODELIST"]
    assert "compute*" in sections[1]
    assert sections[2].split()[:6] == ["JobID", "JobName", "State", "ExitCode", "Start", "End"]
    # Today's jobs of ec2-user include the ones this module ran.
    assert "COMPLETED" in sections[2]
    assert sections[3].startswith("PartitionName=compute")
    # The recipe's blank line between sections.
    assert "\n\n=== Node Status ===" in out and "\n\n=== Cluster Utilization ===" in out


def test_data_transfer_downloads_inputs_and_uploads_results(work):
    (s3,) = emulator_clients("s3")
    bucket = _bucket()
    name = "it-40-%s" % uuid.uuid4().hex[:8]
    s3.put_object(Bucket=bucket, Key="input/%s.dat" % name, Body=b"1 2 3\n")
    s3.put_object(Bucket=bucket, Key="input/%s.bin" % name, Body=b"not an input\n")
    local = ["/fsx/input/%s.dat" % name, "/fsx/input/%s.bin" % name, "/fsx/output/%s.out" % name,
             "/fsx/output/%s.tmp" % name]
    keys = ["input/%s.dat" % name, "input/%s.bin" % name, "output/%s.out" % name, "output/%s.tmp" % name]
    try:
        _write("/fsx/output/%s.out" % name, "result 6\n")
        _write("/fsx/output/%s.tmp" % name, "scratch\n")
        # The key pair comes from ec2-user's ~/.aws/credentials, which job_tools writes.
        proc = _as_user([os.path.join(JOBS, "data-transfer.sh")])
        assert proc.returncode == 0, (proc.stdout, proc.stderr)

        with open("/fsx/input/%s.dat" % name) as handle:
            assert handle.read() == "1 2 3\n"
        assert os.stat("/fsx/input/%s.dat" % name).st_uid == pwd.getpwnam(USER).pw_uid
        assert not os.path.exists("/fsx/input/%s.bin" % name)  # only *.dat and *.txt come down
        body = s3.get_object(Bucket=bucket, Key="output/%s.out" % name)["Body"].read()
        assert body == b"result 6\n"
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="output/%s" % name).get("Contents", [])]
        assert listed == ["output/%s.out" % name]  # only *.out and *.log go up
    finally:
        for key in keys:
            s3.delete_object(Bucket=bucket, Key=key)
        for path in local:
            if os.path.exists(path):
                os.remove(path)


def test_data_transfer_without_credentials_fails(work):
    """No credentials anywhere in the chain: the AWS CLI refuses, and so does the script."""
    env = {k: v for k, v in _bare_env().items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")}
    env.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_EC2_METADATA_DISABLED="true")
    proc = _as_user([os.path.join(JOBS, "data-transfer.sh")], env=env, timeout=120)
    assert proc.returncode != 0
    assert "credentials" in proc.stderr.lower(), proc.stderr
