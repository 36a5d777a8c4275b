"""The slurm_rest role and slurm_job's rest backend on the real local cluster: the endpoint refuses
requests without a token and with a forged one and accepts a minted one; the rest backend, run on
the control node without SSH, reports what the cli backend reports for the same jobs; the JWT
key is private to slurm and neither it nor a token ever appears in output, even at -vvv."""

import base64
import glob
import json
import os
import pwd
import re
import shutil
import urllib.error
import urllib.request
import uuid

import pytest

from helpers import ROOT, changed_tasks, failed_tasks, playbook, run, sacct_jobs, task_results

pytestmark = pytest.mark.integration

HOST = "hpc-cluster-head"
KEY = "/opt/slurm/etc/jwt_hs256.key"
URL = "http://127.0.0.1:6830"
PLAY = os.path.join(ROOT, "tests", "integration", "playbooks", "slurm_rest.yml")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Fields both backends return; nodes, elapsed and paths differ from job to job and are compared by form.
SAME = ("state", "exit_code", "exit_signal", "user", "partition", "reason")


@pytest.fixture(scope="module")
def tag():
    value = uuid.uuid4().hex[:8]
    yield value
    for path in glob.glob("/shared/slurm-rest-it-%s*" % value):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def applied(cluster, tag):
    rc, data = playbook(PLAY, "-e", "tag=" + tag, timeout=900)
    return rc, data


def get(path, user=None, token=None):
    headers = {}
    if user:
        headers["X-SLURM-USER-NAME"] = user
    if token:
        headers["X-SLURM-USER-TOKEN"] = token
    try:
        with urllib.request.urlopen(urllib.request.Request(URL + path, headers=headers), timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def minted(user="ec2-user", lifespan=120):
    out = run(["scontrol", "token", "username=%s" % user, "lifespan=%d" % lifespan]).stdout
    return out.strip().split("=", 1)[1]


def result(data, name, host="localhost"):
    return task_results(data, name)[host]


def test_key_file_is_private_to_slurm(applied):
    rc, data = applied
    assert rc == 0, failed_tasks(data)
    info = os.stat(KEY)
    assert oct(info.st_mode & 0o777) == "0o600"
    assert pwd.getpwuid(info.st_uid).pw_name == "slurm"
    assert info.st_size == 32
    with open("/opt/slurm/etc/slurmdbd.conf") as handle:
        assert "AuthAltParameters=jwt_key=%s\n" % KEY in handle.read()


def test_slurmrestd_runs_unprivileged(applied):
    with open("/run/hpc-parallelcluster/slurmrestd.pid") as handle:
        pid = int(handle.read())
    with open("/proc/%d/status" % pid) as handle:
        uid = int([line for line in handle if line.startswith("Uid:")][0].split()[1])
    assert pwd.getpwuid(uid).pw_name == "slurmrestd"


def ping_path(token):
    """The newest ping the server's OpenAPI document offers (v0.0.38 on Slurm 22.05, v0.0.42 on 24.11)."""
    status, body = get("/openapi/v3", "ec2-user", token)
    assert status == 200, body
    pings = [p for p in json.loads(body)["paths"] if re.fullmatch(r"/slurm/v[0-9.]+/ping/?", p)]
    assert pings, "no ping in the OpenAPI document"
    return max(pings, key=lambda p: tuple(int(n) for n in re.findall(r"[0-9]+", p)))


def test_endpoint_refuses_missing_and_forged_tokens_and_accepts_a_minted_one(applied):
    token = minted()
    ping = ping_path(token)
    status, _body = get(ping)
    assert status == 401
    header, payload, _sig = token.split(".")
    forged = "%s.%s.%s" % (header, payload, base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("="))
    status, body = get(ping, "ec2-user", forged)
    # Slurm 22.05 answers a forged token with 500; 24.11 and later with 200 and a controller that
    # did not answer the ping (the forged token never reached it).
    assert status == 500 or (status == 200 and not any(_up(p) for p in json.loads(body)["pings"])), (status, body)
    status, body = get(ping, "ec2-user", token)
    assert status == 200 and json.loads(body)["pings"] and all(_up(p) for p in json.loads(body)["pings"]), body


def _up(ping):
    """A ping entry that slurmctld answered ("ping" up to v0.0.39, "pinged" from v0.0.40)."""
    return ping.get("pinged", ping.get("ping")) == "UP"


def _without_id(res):
    """A failure message with its job id taken out, to compare two jobs' messages."""
    return res["msg"].replace("job %s " % res["job_id"], "job N ", 1)


def test_rest_backend_reports_what_the_cli_backend_reports(applied, tag):
    _rc, data = applied
    rest_ok, cli_ok = result(data, "REST completing job"), result(data, "CLI completing job", HOST)
    assert not rest_ok.get("failed") and not cli_ok.get("failed")
    assert set(rest_ok) - {"invocation"} >= set(cli_ok) - {"invocation", "cmd"} - {"_ansible_no_log"}
    for key in SAME:
        assert rest_ok[key] == cli_ok[key], key
    assert rest_ok["state"] == "COMPLETED" and rest_ok["stdout_tail"] == cli_ok["stdout_tail"] == "rest-ok\nsecond line"
    assert rest_ok["stdout_path"].endswith("/ok-rest-%s.out" % rest_ok["job_id"])
    again = result(data, "REST completing job again")
    assert again["changed"] is False and again["job_id"] == rest_ok["job_id"]

    rest_fail, cli_fail = result(data, "REST failing job"), result(data, "CLI failing job", HOST)
    assert rest_fail["failed"] and cli_fail["failed"]
    for key in SAME:
        assert rest_fail[key] == cli_fail[key], key
    assert rest_fail["exit_code"] == 3 and rest_fail["state"] == "FAILED"
    assert _without_id(rest_fail) == _without_id(cli_fail)

    rest_cancel, cli_cancel = result(data, "REST cancel"), result(data, "CLI cancel", HOST)
    assert rest_cancel["changed"] and cli_cancel["changed"]
    assert rest_cancel["state"] == cli_cancel["state"] == "CANCELLED"

    accounted = {row["name"]: row for row in sacct_jobs() if row["name"].startswith("it-%s" % tag)}
    assert {r["user"] for r in accounted.values()} == {"ec2-user"}

    no_token = result(data, "REST without a token")
    assert no_token["failed"] and "no token" in no_token["msg"]
    forged = result(data, "REST with a forged token")
    assert forged["failed"] and forged["error_kind"] == "auth" and "authentication failed" in forged["msg"], forged
    unreachable = result(data, "REST on an endpoint nobody listens on")
    assert unreachable["failed"] and unreachable["error_kind"] == "unreachable", unreachable
    assert "127.0.0.1:9" in unreachable["msg"]


def test_second_run_of_the_role_changes_nothing(applied, tag):
    rc, data = playbook(os.path.join(ROOT, "tests", "integration", "playbooks", "slurm_rest_role.yml"), timeout=300)
    assert rc == 0, failed_tasks(data)
    assert changed_tasks(data) == []


def test_key_and_tokens_never_appear_at_vvv(applied, tag):
    rc, out = playbook(PLAY, "-e", "tag=" + tag + "v", "-vvv", json_output=False, timeout=900)
    assert rc == 0, out[-5000:]
    with open(KEY, "rb") as handle:
        key = handle.read()
    for form in (key.hex(), base64.b64encode(key).decode(), key.decode("latin-1")):
        assert form not in out
    assert not JWT.findall(out), "a token was printed"
    assert "the output has been hidden" in out
