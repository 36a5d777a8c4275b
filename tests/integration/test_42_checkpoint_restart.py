"""Jobs that survive being stopped (the recipe's challenge 5), on the running local cluster: a job run
through job_tools' checkpoint-run.sh and requeued in the middle resumes from its checkpoint and does
each phase once; a job without checkpoints runs again from the start; accounting shows both runs;
and the wrapper turns Slurm's time-limit warning into a checkpoint and a requeue."""

import os
import pwd
import shutil
import signal
import subprocess
import uuid

import pytest

from helpers import SLURM_ENV, home_of, run, settled_rows, wait_until

pytestmark = pytest.mark.integration

USER = "ec2-user"
WRAPPER = "/shared/jobs/checkpoint-run.sh"
# Three phases of 4 s. The last phase finished is the checkpoint; the program saves it when asked
# (SIGUSR1, from the wrapper) or stopped (SIGTERM, from Slurm), then exits.
PHASES = """#!/bin/bash
log=$1
last=$(cat "$CHECKPOINT_DIR/phase" 2>/dev/null || echo 0)
echo "start run $CHECKPOINT_RESTART after phase $last" >> "$log"
save() { trap '' USR1 TERM; echo "$last" > "$CHECKPOINT_DIR/phase"; echo "saved after phase $last" >> "$log"; exit 0; }
trap save USR1 TERM
for phase in $(seq $((last + 1)) 3); do
    echo "phase $phase begin" >> "$log"
    sleep 4 & wait $!
    echo "phase $phase end" >> "$log"
    last=$phase
done
echo finished >> "$log"
"""


@pytest.fixture
def work(cluster):
    """A folder of the cluster's user under /shared/jobs, and the ids of the jobs submitted; the
    folder and the jobs' checkpoints go afterwards."""
    path = os.path.join("/shared/jobs", "it-42-%s" % uuid.uuid4().hex[:8])
    os.mkdir(path)
    user = pwd.getpwnam(USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    jobs = []
    yield path, jobs
    for job in jobs:
        run(["scancel", job], check=False)
        shutil.rmtree(os.path.join(home_of(USER), ".checkpoints", job), ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


def _write(path, text):
    with open(path, "w") as handle:
        handle.write(text)
    user = pwd.getpwnam(USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(path, 0o755)


def _lines(path):
    try:
        with open(path) as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        return []


def _requeue_when(job, log, line):
    """Requeue a running job once its log has ``line``, and let it start again at once."""
    wait_until(lambda: line in _lines(log), 300, interval=0.5, what="%r in %s" % (line, log))
    run(["scontrol", "requeue", job])
    # Slurm holds a requeued batch job for its credential lifetime (reason BeginTime) once the first
    # run has ended (COMPLETING before); a new start time releases it.
    wait_until(lambda: run(["squeue", "--noheader", "--jobs", job, "--format=%T"]).stdout.strip() == "PENDING", 60,
               interval=0.5, what="the requeue of " + job)
    run(["scontrol", "update", "JobId=" + job, "StartTime=now"], check=False)


def _runs(job):
    """The states of every run of a job, oldest first (sacct --duplicates keeps the requeued ones)."""
    out = run(["sacct", "--noheader", "--parsable2", "--allocations", "--duplicates", "--jobs", job,
               "--format=JobID,State"]).stdout
    return [state for job_id, state in (line.split("|") for line in out.splitlines() if line) if job_id == job]


def _submit(path, jobs, script):
    batch = os.path.join(path, "job-%d.sh" % len(jobs))
    _write(batch, script)
    job = run(["sbatch", "--parsable", "--requeue", "--nodes=1", "--output=" + os.path.join(path, "out-%j.txt"), batch],
              user=USER).stdout.strip()
    jobs.append(job)
    return job


def test_a_checkpointed_job_requeued_mid_way_does_each_phase_once(work):
    path, jobs = work
    program, log = os.path.join(path, "phases.sh"), os.path.join(path, "log")
    _write(program, PHASES)
    job = _submit(path, jobs, "#!/bin/bash\n%s -- %s %s\n" % (WRAPPER, program, log))
    _requeue_when(job, log, "phase 2 begin")
    assert settled_rows([job], 300)[job]["state"] == "COMPLETED"
    lines = _lines(log)
    assert lines == ["start run 0 after phase 0", "phase 1 begin", "phase 1 end", "phase 2 begin", "saved after phase 1",
                     "start run 1 after phase 1", "phase 2 begin", "phase 2 end", "phase 3 begin", "phase 3 end",
                     "finished"], lines
    # Done: the checkpoint folder is gone. Both runs are in accounting.
    assert not os.path.exists(os.path.join(home_of(USER), ".checkpoints", job))
    assert _runs(job) == ["REQUEUED", "COMPLETED"], _runs(job)


def test_a_job_without_checkpoints_runs_again_from_the_start(work):
    path, jobs = work
    log = os.path.join(path, "log")
    job = _submit(path, jobs, "#!/bin/bash\necho \"start ${SLURM_RESTART_COUNT:-0}\" >> %s\nsleep 6\necho end >> %s\n" % (log, log))
    _requeue_when(job, log, "start 0")
    assert settled_rows([job], 300)[job]["state"] == "COMPLETED"
    assert _lines(log) == ["start 0", "start 1", "end"], _lines(log)
    assert _runs(job) == ["REQUEUED", "COMPLETED"], _runs(job)


def test_the_time_limit_warning_becomes_a_checkpoint_and_a_requeue(work, tmp_path):
    """Slurm's --signal=B:USR1@<seconds> warning, sent to the wrapper by hand (as the cluster's user,
    outside Slurm, with a stand-in scontrol that records the requeue)."""
    path, _jobs = work
    program, log, calls = os.path.join(path, "phases.sh"), os.path.join(path, "log"), os.path.join(path, "scontrol")
    _write(program, PHASES)
    fake = os.path.join(path, "bin")
    os.mkdir(fake)
    os.chown(fake, pwd.getpwnam(USER).pw_uid, -1)
    _write(os.path.join(fake, "scontrol"), "#!/bin/sh\necho \"$@\" >> %s\n" % calls)
    root = os.path.join(path, "checkpoints")
    env = dict(SLURM_ENV, PATH="%s:/usr/bin:/bin" % fake, HOME=home_of(USER), SLURM_JOB_ID="4242",
               CHECKPOINT_ROOT=root)
    # setpriv runs the wrapper in its own process (runuser would stay its parent), so the signal reaches it.
    wrapper = subprocess.Popen(["/usr/bin/setpriv", "--reuid", USER, "--regid", USER, "--init-groups", WRAPPER, "--grace", "5", "--",
                                program, log], env=env, cwd=path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until(lambda: "phase 1 end" in _lines(log), 30, interval=0.2, what="phase 1 to end")
    wrapper.send_signal(signal.SIGUSR1)
    output = wrapper.communicate(timeout=30)[0]
    assert wrapper.returncode == 0, output
    assert _lines(calls) == ["requeue 4242"], output
    assert "saved after phase 1" in _lines(log), _lines(log)
    checkpoint = os.path.join(root, "4242")
    assert oct(os.stat(checkpoint).st_mode & 0o777) == "0o700" and os.stat(checkpoint).st_uid == pwd.getpwnam(USER).pw_uid
    with open(os.path.join(checkpoint, "phase")) as handle:
        assert handle.read().strip() == "1"
    # The requeued run resumes there and, finished, removes the checkpoint.
    proc = subprocess.run(["/usr/sbin/runuser", "-u", USER, "--", WRAPPER, "--", program, log], env=dict(env, SLURM_RESTART_COUNT="1"),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert _lines(log)[-6:] == ["start run 1 after phase 1", "phase 2 begin", "phase 2 end", "phase 3 begin", "phase 3 end",
                                "finished"], _lines(log)
    assert not os.path.exists(checkpoint)


@pytest.mark.parametrize("args, message", [
    ([], "Usage: checkpoint-run.sh"),
    (["--grace", "soon", "--", "true"], "--grace must be a whole number of seconds, not 'soon'"),
    (["--", "true"], "not in a Slurm job (no SLURM_JOB_ID)"),
])
def test_bad_use_is_refused_saying_why(cluster, args, message):
    env = dict(SLURM_ENV, PATH="/usr/bin:/bin", HOME=home_of(USER))
    env.pop("SLURM_JOB_ID", None)
    proc = subprocess.run(["/usr/sbin/runuser", "-u", USER, "--", WRAPPER, *args], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
