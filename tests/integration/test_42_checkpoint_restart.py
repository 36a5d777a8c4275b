"""Jobs that survive being stopped (the recipe's challenge 5), on the running local cluster: a job run
through job_tools' checkpoint-run.sh and requeued in the middle resumes from its checkpoint and does
each phase once; a job without checkpoints runs again from the start; accounting shows both runs;
the wrapper turns Slurm's time-limit warning into a checkpoint and a requeue; and a Spot
interruption (playbooks/spot_interruption.yml: the notice, then the instance is gone) reaches the
job, which checkpoints, is requeued when its node is lost and resumes on another instance."""

import http.server
import json
import os
import pwd
import shutil
import signal
import subprocess
import threading
import uuid

import pytest

from helpers import (SLURM_ENV, failed_tasks, home_of, job_field, node_state, playbook, release_requeued, run, settled_rows,
                     task_results, wait_until)

pytestmark = pytest.mark.integration

USER = "ec2-user"
WRAPPER = "/shared/jobs/checkpoint-run.sh"
METADATA = "/run/hpc-parallelcluster/instance-metadata"
# Three phases of 4 s (or of the second argument's seconds). The last phase finished is the checkpoint; the program saves it when asked
# (SIGUSR1, from the wrapper) or stopped (SIGTERM, from Slurm), then exits.
PHASES = """#!/bin/bash
log=$1
last=$(cat "$CHECKPOINT_DIR/phase" 2>/dev/null || echo 0)
echo "start run $CHECKPOINT_RESTART after phase $last" >> "$log"
save() { trap '' USR1 TERM; echo "$last" > "$CHECKPOINT_DIR/phase"; echo "saved after phase $last" >> "$log"; exit 0; }
trap save USR1 TERM
for phase in $(seq $((last + 1)) 3); do
    echo "phase $phase begin" >> "$log"
    sleep "${2:-4}" & wait $!
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
    node = job_field(job, "N")
    run(["scontrol", "requeue", job])
    release_requeued(job, node)


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


def _start_as_user(args, env, cwd):
    """``args`` started as the cluster's user, output and errors together. setpriv runs them in its own
    process (runuser would stay their parent), so a signal sent to the returned process reaches them."""
    return subprocess.Popen(["/usr/bin/setpriv", "--reuid", USER, "--regid", USER, "--init-groups", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stand_in_slurm(path, calls, state):
    """A folder with a stand-in scontrol that records its arguments in ``calls`` and a stand-in
    squeue that shows the job in ``state``."""
    fake = os.path.join(path, "bin")
    os.mkdir(fake)
    os.chown(fake, pwd.getpwnam(USER).pw_uid, -1)
    _write(os.path.join(fake, "scontrol"), "#!/bin/sh\necho \"$@\" >> %s\n" % calls)
    _write(os.path.join(fake, "squeue"), "#!/bin/sh\necho %s\n" % state)
    return fake


@pytest.mark.parametrize("state, kept", [("COMPLETING", True), ("RUNNING", False)])
def test_a_program_that_saves_before_the_wrapper_hears_the_stop_keeps_its_checkpoint(work, state, kept):
    """Slurm signals a job's processes deepest first: the program can save and exit 0 before the
    wrapper hears the stop. The wrapper (as the cluster's user, outside Slurm, a stand-in squeue
    showing the job ``state``) keeps the checkpoint unless Slurm still runs the job."""
    path, _jobs = work
    program, log = os.path.join(path, "phases.sh"), os.path.join(path, "log")
    _write(program, PHASES)
    fake = _stand_in_slurm(path, os.path.join(path, "scontrol"), state)
    root = os.path.join(path, "checkpoints")
    env = dict(SLURM_ENV, PATH="%s:/usr/bin:/bin" % fake, HOME=home_of(USER), SLURM_JOB_ID="4141", CHECKPOINT_ROOT=root)
    wrapper = _start_as_user([WRAPPER, "--", program, log], env, path)
    try:
        wait_until(lambda: "phase 2 begin" in _lines(log), 30, interval=0.2, what="phase 2 to begin")
        child = run(["pgrep", "-P", str(wrapper.pid), "-f", program]).stdout.split()
        assert len(child) == 1, child
        os.kill(int(child[0]), signal.SIGTERM)
        output = wrapper.communicate(timeout=30)[0]
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    assert wrapper.returncode == 0, output
    assert _lines(log)[-1] == "saved after phase 1", _lines(log)
    checkpoint = os.path.join(root, "4141", "phase")
    assert os.path.exists(checkpoint) is kept, output
    if kept:
        assert "job 4141 is COMPLETING, not finished: its checkpoints stay in %s" % os.path.dirname(checkpoint) in output, output
        with open(checkpoint) as handle:
            assert handle.read().strip() == "1"


def test_the_time_limit_warning_becomes_a_checkpoint_and_a_requeue(work, tmp_path):
    """Slurm's --signal=B:USR1@<seconds> warning, sent to the wrapper by hand (as the cluster's user,
    outside Slurm, with a stand-in scontrol that records the requeue)."""
    path, _jobs = work
    program, log, calls = os.path.join(path, "phases.sh"), os.path.join(path, "log"), os.path.join(path, "scontrol")
    _write(program, PHASES)
    fake = _stand_in_slurm(path, calls, "RUNNING")
    root = os.path.join(path, "checkpoints")
    env = dict(SLURM_ENV, PATH="%s:/usr/bin:/bin" % fake, HOME=home_of(USER), SLURM_JOB_ID="4242",
               CHECKPOINT_ROOT=root)
    wrapper = _start_as_user([WRAPPER, "--grace", "5", "--", program, log], env, path)
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


class _Imds(http.server.BaseHTTPRequestHandler):
    """EC2's instance metadata service as IMDSv2 serves the Spot notice: a token from PUT
    /latest/api/token (the TTL header is required), then GET with that token; 404 until a notice."""

    token = "imds-token-%s" % uuid.uuid4().hex
    notice = None
    calls = []

    def do_PUT(self):
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self.calls.append(("PUT", self.path, ttl))
        if self.path != "/latest/api/token" or not ttl:
            return self._reply(400, b"")
        return self._reply(200, self.token.encode())

    def do_GET(self):
        given = self.headers.get("X-aws-ec2-metadata-token")
        self.calls.append(("GET", self.path, given == self.token))
        if given != self.token:
            return self._reply(401, b"")
        if self.path != "/latest/meta-data/spot/instance-action" or self.notice is None:
            return self._reply(404, b"")
        return self._reply(200, json.dumps(self.notice).encode())

    def _reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_on_ec2_the_wrapper_reads_the_notice_from_the_metadata_service_with_a_token(work):
    """The aws side: the installed wrapper with job_tools_instance_metadata an http:// URL (a stand-in
    for EC2's metadata service on loopback), run as the cluster's user outside Slurm."""
    path, _jobs = work
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Imds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with open(WRAPPER) as handle:
            text = handle.read()
        assert "\nMETADATA=/run/hpc-parallelcluster/instance-metadata/%n\n" in text
        wrapper = os.path.join(path, "imds-run.sh")
        _write(wrapper, text.replace("\nMETADATA=/run/hpc-parallelcluster/instance-metadata/%n\n",
                                     "\nMETADATA=http://127.0.0.1:%d\n" % server.server_address[1]))
        program, log = os.path.join(path, "phases.sh"), os.path.join(path, "log")
        _write(program, PHASES)
        env = dict(SLURM_ENV, PATH="/usr/bin:/bin", HOME=home_of(USER), SLURM_JOB_ID="4343",
                   CHECKPOINT_ROOT=os.path.join(path, "checkpoints"))
        proc = _start_as_user([wrapper, "--grace", "3", "--", program, log, "12"], env, path)
        try:
            wait_until(lambda: "phase 1 begin" in _lines(log), 30, interval=0.2, what="phase 1 to begin")
            wait_until(lambda: ("GET", "/latest/meta-data/spot/instance-action", True) in _Imds.calls, 15, interval=0.2,
                       what="a poll with the token")
            assert "saved" not in " ".join(_lines(log))
            _Imds.notice = {"action": "terminate", "time": "2026-12-03T08:00:00Z"}
            wait_until(lambda: "saved after phase 0" in _lines(log) or "saved after phase 1" in _lines(log), 20,
                       interval=0.2, what="the checkpoint after the notice")
            # The job now holds its node until the instance goes; Slurm's stop ends it.
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            output = proc.communicate(timeout=30)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 143, output
        assert "spot-notice: asking the program for a checkpoint" in output, output
        assert all(ttl for verb, _path, ttl in _Imds.calls if verb == "PUT"), _Imds.calls
        assert all(ok for verb, _path, ok in _Imds.calls if verb == "GET"), _Imds.calls
    finally:
        server.shutdown()
        server.server_close()


def test_a_spot_interruption_reaches_the_job_which_checkpoints_and_resumes_after_the_node_is_lost(work):
    path, jobs = work
    program, log = os.path.join(path, "phases.sh"), os.path.join(path, "log")
    _write(program, PHASES)
    # Phases of 12 s: the wrapper polls the notice every 5 s, so it arrives within phase 2.
    job = _submit(path, jobs, "#!/bin/bash\n%s --grace 5 -- %s %s 12\n" % (WRAPPER, program, log))
    wait_until(lambda: "phase 2 begin" in _lines(log), 300, interval=0.5, what="phase 2 of " + job)
    node = job_field(job, "N")
    rc, data = playbook("spot_interruption.yml", "-e", "spot_interruption_node=" + node,
                        "-e", "spot_interruption_notice_seconds=15")
    assert rc == 0, failed_tasks(data)
    # The notice reached the program before the instance went; the folder a notice is posted in is
    # root's (an unprivileged user cannot plant a link there for root to follow), and it is gone now.
    assert _lines(log)[-1] == "saved after phase 1", _lines(log)
    notice = next(iter(task_results(data, "Post the interruption notice in the instance's metadata").values()))
    assert notice["changed"] and notice["mode"] == "0644" and notice["owner"] == "root", notice
    assert not os.path.exists(os.path.join(METADATA, node))
    parent = os.stat(METADATA)
    assert parent.st_uid == 0 and parent.st_mode & 0o022 == 0, oct(parent.st_mode)
    planted = run(["ln", "-s", "/etc", os.path.join(METADATA, node)], user=USER, check=False)
    assert planted.returncode != 0 and not os.path.lexists(os.path.join(METADATA, node)), planted.stderr
    # The node is down and powering down, as clustermgtd leaves a node whose instance is gone; Slurm
    # requeued the job (NODE_FAIL).
    assert "DOWN" in node_state(node) or "POWER" in node_state(node), node_state(node)
    release_requeued(job)
    # Accounting shows the first run's NODE_FAIL until the second run starts: wait for the job's end.
    wait_until(lambda: job_field(job, "T") == "", 300,
               what="the second run of " + job)
    assert settled_rows([job], 300)[job]["state"] == "COMPLETED"
    lines = _lines(log)
    assert lines == ["start run 0 after phase 0", "phase 1 begin", "phase 1 end", "phase 2 begin", "saved after phase 1",
                     "start run 1 after phase 1", "phase 2 begin", "phase 2 end", "phase 3 begin", "phase 3 end",
                     "finished"], lines
    assert _runs(job) == ["NODE_FAIL", "COMPLETED"], _runs(job)
    # The interrupted node comes back to the pool powered down, ready for a new instance.
    wait_until(lambda: node_state(node).endswith("POWERED_DOWN") and "DOWN+" not in node_state(node), 180,
               what="%s powered down and free" % node)


@pytest.mark.parametrize("extra, message", [
    ([], "spot_interruption_node must name one compute node"),
    (["-e", "spot_interruption_node=../../etc"], "spot_interruption_node must name one compute node"),
    (["-e", "spot_interruption_node=compute-dy-compute-nodes-1", "-e", "spot_interruption_notice_seconds=soon"],
     "spot_interruption_notice_seconds must be a whole number of seconds"),
    (["-e", "spot_interruption_node=no-such-node"], "spot_interruption_node no-such-node has no running instance"),
])
def test_a_bad_interruption_is_refused_naming_the_field_and_changes_nothing(cluster, extra, message):
    before = sorted(os.listdir(METADATA)) if os.path.isdir(METADATA) else []
    rc, output = playbook("spot_interruption.yml", *extra, json_output=False)
    assert rc != 0 and message in " ".join(output.split()), output[-3000:]
    assert "Nothing was changed" in " ".join(output.split())
    assert (sorted(os.listdir(METADATA)) if os.path.isdir(METADATA) else []) == before


def test_a_powered_down_node_is_refused(cluster):
    down = [line.split()[0] for line in run(["sinfo", "--noheader", "--Node", "--format=%N %t"]).stdout.splitlines()
            if line.split()[1].endswith("~")]
    assert down, "no powered-down node to try"
    rc, output = playbook("spot_interruption.yml", "-e", "spot_interruption_node=" + down[0], json_output=False)
    assert rc != 0 and "has no running instance to interrupt" in " ".join(output.split()), output[-3000:]
    assert not os.path.exists(os.path.join(METADATA, down[0]))
