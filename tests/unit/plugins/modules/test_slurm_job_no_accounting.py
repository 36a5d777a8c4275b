"""slurm_job and slurm_job_info on a cluster without slurmdbd, with both backends, against answers
captured from Slurm 22.05 with AccountingStorageType=accounting_storage/none and MinJobAge=2
(fixtures/slurm_no_accounting); and, with accounting, a job that slurmctld already reports ended
while accounting still shows it running."""

import json
import os
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from module_runner import run_module
from slurm_fakes import (
    CONFIG_WITH_ACCOUNTING,
    CONFIG_WITHOUT_ACCOUNTING,
    FakeRunner,
    answer,
    no_accounting,
    sample,
)
from slurmrestd_fake import GOOD_TOKEN

from ansible_collections.hpc.parallelcluster.plugins.module_utils.job_keys import KeyStore
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import (
    SEP,
    AccountingDisabled,
    SlurmCLI,
    parse_config,
)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_jobs import JobFinder
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_rest import SlurmREST
from ansible_collections.hpc.parallelcluster.plugins.modules import slurm_job, slurm_job_info

QUEUE = no_accounting("squeue_running_and_just_done.txt")  # job 1 RUNNING (key "run key"), 2 COMPLETED ("done key")
RUNNING = no_accounting("scontrol_job_running.txt")
JUST_DONE = no_accounting("scontrol_job_just_done.txt")
CANCELLED = no_accounting("scontrol_job_cancelled.txt")
FORGOTTEN = answer("scontrol_job_forgotten")
SQUEUE_FORGOTTEN = answer("squeue_forgotten")
SACCT = answer("sacct_no_dbd")


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    def go(args, runner, module=slurm_job):
        if module is slurm_job:
            args = dict(args)
            args.setdefault("key_store", str(tmp_path / "keys" / "store.json"))
            args.setdefault("poll_interval", 0.01)
            args.setdefault("max_poll_interval", 0.01)
        return run_module(module, args, runner, capsys, monkeypatch)
    return go


def cli(config=CONFIG_WITHOUT_ACCOUNTING, **responses):
    """A runner for a cluster without accounting: sacct answers as it really does there."""
    responses.setdefault("sacct", SACCT)
    return FakeRunner(config=config, **responses)


# The accounting question ------------------------------------------------------------------------

def test_scontrol_show_config_says_whether_there_is_accounting():
    config = parse_config(CONFIG_WITHOUT_ACCOUNTING)
    assert config["AccountingStorageType"] == "accounting_storage/none"
    assert config["MinJobAge"] == "2 sec" and config["ClusterName"] == "noacct"
    runner = cli()
    slurm = SlurmCLI(runner)
    assert slurm.has_accounting() is False and slurm.has_accounting() is False
    assert [args for args, _kw in runner.calls] == [["scontrol", "show", "config"]]
    assert runner.calls[0][1]["environ_update"]["LC_ALL"] == "C"
    assert SlurmCLI(FakeRunner(config=CONFIG_WITH_ACCOUNTING)).has_accounting() is True


def test_sacct_refusal_without_slurmdbd_is_its_own_error():
    with pytest.raises(AccountingDisabled) as err:
        SlurmCLI(cli()).accounting(all_users=True)
    assert "accounting storage is disabled" in str(err.value)


def test_accounting_is_asked_once_per_run_and_sacct_never_runs(run):
    runner = cli(squeue=(0, QUEUE, ""), scontrol=(0, JUST_DONE, ""))
    out = run({"name": "quick", "history": True}, runner, module=slurm_job_info)
    assert out["accounting"] is False
    assert [j["job_id"] for j in out["jobs"]] == ["2"] and out["jobs"][0]["state"] == "COMPLETED"
    assert runner.commands("sacct") == []
    assert len([a for a in runner.commands("scontrol") if a[1:3] == ["show", "config"]]) == 1


# Keys, status, wait and cancel from slurmctld alone ------------------------------------------------

def test_key_of_a_job_that_ended_a_moment_ago_is_found_in_slurmctld(run):
    runner = cli(squeue=(0, QUEUE, ""), scontrol=(0, JUST_DONE, ""))
    out = run({"wrap": "echo finished", "idempotency_key": "done key"}, runner)
    assert out["changed"] is False and out["job_id"] == "2" and out["state"] == "COMPLETED"
    assert out["idempotency_key"] == "done key" and out["exit_code"] == 0
    assert runner.commands("sacct") == [] and "sbatch" not in runner.responses


def test_key_of_a_running_job_is_found_and_waited_for(run):
    ended = RUNNING.replace("JobState=RUNNING", "JobState=COMPLETED")
    runner = cli(squeue=(0, QUEUE, ""), scontrol=[(0, RUNNING, ""), (0, ended, "")])
    out = run({"wrap": "sleep 60", "idempotency_key": "run key", "state": "completed"}, runner)
    assert out["changed"] is False and out["job_id"] == "1" and out["state"] == "COMPLETED"
    assert runner.commands("sacct") == []


def test_new_key_is_submitted_and_recorded_then_found(run, tmp_path):
    store = tmp_path / "keys" / "store.json"
    runner = cli(squeue=(0, "", ""), sbatch=(0, "7\n", ""), scontrol=(0, RUNNING.replace("JobId=1 ", "JobId=7 "), ""))
    out = run({"wrap": "true", "idempotency_key": "fresh"}, runner)
    assert out["changed"] is True and out["job_id"] == "7"
    assert KeyStore(str(store)).lookup("cli:noacct", "fresh")["job_id"] == "7"
    assert os.stat(str(store)).st_mode & 0o777 == 0o600
    assert os.stat(str(store.parent)).st_mode & 0o777 == 0o700
    assert runner.commands("sacct") == []


def test_key_whose_job_slurmctld_forgot_fails_clearly_and_submits_nothing(run, tmp_path):
    KeyStore(str(tmp_path / "keys" / "store.json")).remember("cli:noacct", "done key", "2")
    runner = cli(squeue=(0, no_accounting("squeue_after_min_job_age.txt"), ""))
    out = run({"wrap": "echo finished", "idempotency_key": "done key"}, runner)
    assert out["failed"] is True and out["job_id"] == "2" and out["accounting"] is False
    for words in ("idempotency_key 'done key' was used for job 2", "MinJobAge (2 sec)", "keeps no accounting",
                  "Nothing was submitted", "new idempotency_key"):
        assert words in out["msg"]
    assert runner.commands("sbatch") == [] and runner.commands("sacct") == []


def test_key_of_another_cluster_is_not_taken_for_this_one(run, tmp_path):
    KeyStore(str(tmp_path / "keys" / "store.json")).remember("cli:elsewhere", "done key", "2")
    runner = cli(squeue=(0, "", ""), sbatch=(0, "8\n", ""), scontrol=(0, RUNNING.replace("JobId=1 ", "JobId=8 "), ""))
    out = run({"wrap": "true", "idempotency_key": "done key"}, runner)
    assert out["changed"] is True and out["job_id"] == "8"


def test_key_of_a_cancelled_job_slurmctld_still_holds_is_submitted_again(run, tmp_path):
    KeyStore(str(tmp_path / "keys" / "store.json")).remember("cli:noacct", "run key", "1")
    runner = cli(squeue=(0, no_accounting("squeue_cancelled.txt"), ""), sbatch=(0, "9\n", ""),
                 scontrol=(0, RUNNING.replace("JobId=1 ", "JobId=9 "), ""))
    out = run({"wrap": "sleep 60", "idempotency_key": "run key"}, runner)
    assert out["changed"] is True and out["job_id"] == "9"


def test_check_mode_with_a_forgotten_key_fails_the_same_and_records_nothing(run, tmp_path, capsys, monkeypatch):
    store = tmp_path / "keys" / "store.json"
    KeyStore(str(store)).remember("cli:noacct", "done key", "2")
    before = store.read_text()
    runner = cli(squeue=(0, "", ""))
    out = run_module(slurm_job, {"wrap": "true", "idempotency_key": "done key", "key_store": str(store)},
                     runner, capsys, monkeypatch, check_mode=True)
    assert out["failed"] is True and "was used for job 2" in out["msg"]
    assert store.read_text() == before


def test_wait_ends_when_slurmctld_forgets_the_job_and_says_why(run):
    runner = cli(scontrol=[(0, RUNNING, ""), FORGOTTEN])
    out = run({"job_id": "1", "state": "completed"}, runner)
    assert out["failed"] is True and out["accounting"] is False
    assert "job 1 cannot be reported" in out["msg"] and "MinJobAge (2 sec)" in out["msg"]
    assert runner.commands("sacct") == []


def test_job_id_of_a_forgotten_job_is_not_called_unknown_to_slurm(run):
    out = run({"job_id": "2", "state": "cancelled"}, cli(scontrol=FORGOTTEN))
    assert out["failed"] is True and "keeps no accounting" in out["msg"] and "unknown to Slurm" not in out["msg"]


def test_cancel_from_slurmctld_alone(run):
    runner = cli(scontrol=[(0, RUNNING, ""), (0, CANCELLED, "")], scancel=(0, "", ""))
    out = run({"job_id": "1", "state": "cancelled"}, runner)
    assert out["changed"] is True and out["job_ids"] == ["1"] and out["state"] == "CANCELLED"
    assert runner.commands("scancel") == [["scancel", "1"]] and runner.commands("sacct") == []


def test_info_by_id_of_a_forgotten_job_is_empty(run):
    out = run({"job_id": "2"}, cli(squeue=SQUEUE_FORGOTTEN), module=slurm_job_info)
    assert out["jobs"] == [] and out["accounting"] is False


# The key store is the running account's own ------------------------------------------------------

def test_key_store_in_a_folder_others_may_write_is_refused(run, tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    runner = cli(squeue=(0, "", ""))
    out = run({"wrap": "true", "idempotency_key": "k", "key_store": str(folder / "store.json")}, runner)
    assert out["failed"] is True and out["parameters"] == ["key_store"] and "writable by it alone" in out["msg"]
    assert runner.commands("sbatch") == []


def test_key_store_that_is_a_symlink_is_not_followed(run, tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"cli:noacct": {"k": {"job_id": "3", "submitted": 0}}}))
    (folder / "store.json").symlink_to(target)
    runner = cli(squeue=(0, "", ""))
    out = run({"wrap": "true", "idempotency_key": "k", "key_store": str(folder / "store.json")}, runner)
    assert out["failed"] is True and "symbolic link" in out["msg"] and out["parameters"] == ["key_store"]


# With accounting: slurmctld's record wins over accounting's lagging one ------------------------------

def lagging_sacct():
    """sacct's row for job 2 while slurmdbd has not yet recorded its end: still RUNNING."""
    fields = ["2", "2", "quick", "RUNNING", "0:0", "noacct1", "1", "00:00:00", "root",
              "hpc.parallelcluster:idempotency_key=done%20key", "/work", "debug", "None"]
    return SEP.join(fields) + "\n"


def test_search_judges_a_job_slurmctld_holds_on_slurmctld_alone():
    runner = FakeRunner(squeue=(0, QUEUE, ""), sacct=(0, lagging_sacct(), ""))
    finder = JobFinder(SlurmCLI(runner))
    assert finder.search(name="quick", states=["RUNNING"]) == []
    assert finder.search(name="quick", states=["COMPLETED"]) == ["2"]
    assert len(runner.commands("sacct")) == 2


def test_wait_reports_the_end_slurmctld_knows_before_accounting(run):
    runner = FakeRunner(scontrol=(0, JUST_DONE, ""), sacct=(0, lagging_sacct(), ""))
    out = run({"job_id": "2", "state": "completed"}, runner)
    assert out["changed"] is False and out["state"] == "COMPLETED"
    assert runner.commands("sacct") == []


def test_accounting_is_still_searched_for_jobs_slurmctld_forgot(run):
    runner = FakeRunner(squeue=(0, "", ""), sacct=(0, sample("sacct_jobs.txt"), ""), scontrol=FORGOTTEN)
    out = run({"name": "smoke"}, runner, module=slurm_job_info)
    assert out["accounting"] is True and len(runner.commands("sacct")) == 1


# backend rest: slurmrestd v0.0.38 with the slurmctld plugin only -----------------------------------

class ReplaySlurmrestd:
    """Serves the captured answers; /jobs and /job/{id} answer as configured; records each path."""

    def __init__(self, jobs, job):
        self.jobs = jobs  # list of fixture names, one per GET /jobs (the last repeats)
        self.job = job  # {job id: [fixture names, one per GET]}
        self.paths = []
        self.submitted = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, kind="application/json"):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(*replay.answer("GET", self.path))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                replay.submitted.append(json.loads(self.rfile.read(length)))
                self._send(*replay.answer("POST", self.path))

            def do_DELETE(self):
                self._send(*replay.answer("DELETE", self.path))

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def _next(names):
        return names.pop(0) if len(names) > 1 else names[0]

    def answer(self, method, path):
        self.paths.append((method, path))
        if path.startswith("/slurmdb/"):
            return 404, no_accounting("rest_slurmdb_jobs.json"), "text/plain"
        if path == "/openapi/v3":
            return 200, no_accounting("rest_openapi_v3.json")
        if path.startswith("/slurm/v0.0.38/ping"):
            return 200, no_accounting("rest_ping.json")
        if path == "/slurm/v0.0.38/jobs":
            return 200, no_accounting(self._next(self.jobs) + ".json")
        if path == "/slurm/v0.0.38/job/submit":
            return 200, no_accounting("rest_submit.json")
        job_id = path.rsplit("/", 1)[-1]
        if method == "DELETE":
            return 200, no_accounting("rest_cancel.json")
        name = self._next(self.job[job_id])
        return (500 if name == "rest_job_forgotten" else 200), no_accounting(name + ".json")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def replay():
    servers = []

    def start(jobs=("rest_jobs",), job=None):
        server = ReplaySlurmrestd(list(jobs), {k: list(v) for k, v in (job or {}).items()})
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.close()


def rest_args(server, **args):
    base = {"backend": "rest", "rest_url": server.url, "rest_token": GOOD_TOKEN, "rest_user": "root",
            "wait_timeout": 10, "chdir": "/tmp"}
    base.update(args)
    return base


def no_commands():
    return FakeRunner()


def test_rest_without_slurmdbd_paths_has_no_accounting(replay):
    server = replay()
    client = SlurmREST(server.url, GOOD_TOKEN, user="root")
    assert client.has_accounting() is False and client.version == "0.0.38"
    with pytest.raises(AccountingDisabled):
        client.accounting(all_users=True)
    assert not any(path.startswith("/slurmdb/") for _method, path in server.paths)


def test_rest_key_of_a_job_that_ended_a_moment_ago_is_found(run, replay):
    server = replay(job={"5": ["rest_job_just_done"]})
    out = run(rest_args(server, wrap="echo done", idempotency_key="quick key"), no_commands())
    assert out["changed"] is False and out["job_id"] == "5" and out["state"] == "COMPLETED"
    assert server.submitted == [] and not any(p.startswith("/slurmdb/") for _m, p in server.paths)


def test_rest_forgotten_key_fails_clearly(run, replay, tmp_path):
    server = replay(jobs=["rest_jobs_after_min_job_age"])
    KeyStore(str(tmp_path / "keys" / "store.json")).remember("rest:" + server.url, "quick key", "5")
    out = run(rest_args(server, wrap="echo done", idempotency_key="quick key"), no_commands())
    assert out["failed"] is True and "was used for job 5" in out["msg"] and "keeps no accounting" in out["msg"]
    assert server.submitted == [] and not any(p.startswith("/slurmdb/") for _m, p in server.paths)


def test_rest_new_key_is_submitted_and_recorded(run, replay, tmp_path):
    server = replay(jobs=["rest_jobs_after_min_job_age"], job={"6": ["rest_job_running"]})
    out = run(rest_args(server, wrap="sleep 60", idempotency_key="new key"), no_commands())
    assert out["changed"] is True and out["job_id"] == "6" and len(server.submitted) == 1
    record = KeyStore(str(tmp_path / "keys" / "store.json")).lookup("rest:" + server.url, "new key")
    assert record["job_id"] == "6"


def test_rest_wait_and_cancel_from_slurmctld_alone(run, replay):
    server = replay(job={"6": ["rest_job_running", "rest_job_running", "rest_job_cancelled"]})
    out = run(rest_args(server, job_id="6", state="cancelled"), no_commands())
    assert out["changed"] is True and out["job_ids"] == ["6"] and out["state"] == "CANCELLED"
    assert ("DELETE", "/slurm/v0.0.38/job/6") in server.paths
    assert not any(p.startswith("/slurmdb/") for _m, p in server.paths)


def test_rest_wait_for_a_job_slurmctld_forgot_says_why(run, replay):
    server = replay(job={"5": ["rest_job_forgotten"]})
    out = run(rest_args(server, job_id="5", state="completed"), no_commands())
    assert out["failed"] is True and "job 5 cannot be reported" in out["msg"]
    assert not any(p.startswith("/slurmdb/") for _m, p in server.paths)


def test_key_store_planted_by_another_user_is_refused_and_its_target_untouched(run, tmp_path):
    """The attack run as an unprivileged user (nobody): a key_store folder of theirs holding a link
    to a file of root's. The module (root here) neither reads through it nor writes the target."""
    assert os.geteuid() == 0, "this test runs the planting user's part as nobody through runuser"
    base = tempfile.mkdtemp(prefix="hpc-keystore-attack-")
    try:
        os.chmod(base, 0o755)
        victim = os.path.join(base, "root-only")
        with open(victim, "w") as handle:
            handle.write("root's own\n")
        os.chmod(victim, 0o600)
        folder = os.path.join(base, "keys")
        os.chmod(base, 0o777)
        plant = "mkdir -m 0700 %s && ln -s %s %s/store.json" % (folder, victim, folder)
        subprocess.run(["runuser", "-u", "nobody", "--", "sh", "-c", plant], check=True)
        os.chmod(base, 0o755)
        assert os.stat(folder).st_uid != 0
        runner = cli(squeue=(0, "", ""), sbatch=(0, "7\n", ""), scontrol=(0, RUNNING, ""))
        out = run({"wrap": "true", "idempotency_key": "k", "key_store": os.path.join(folder, "store.json")}, runner)
        assert out["failed"] is True and out["parameters"] == ["key_store"] and "must belong to uid 0" in out["msg"]
        assert runner.commands("sbatch") == []
        with open(victim) as handle:
            assert handle.read() == "root's own\n"
    finally:
        subprocess.run(["rm", "-rf", base], check=True)
