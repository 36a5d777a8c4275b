"""Research groups as Slurm accounts on the running recipe cluster (it has accounting: its config sets
Scheduling.SlurmSettings.Database): site.yml's slurm_accounts role keeps accounts, users and QOS as
declared in slurmdbd, jobs are charged to them, slurm_usage reports what they used and cost, and purge
takes the cluster back to Slurm's own."""

import csv
import json
import os
import stat
import time
import xml.etree.ElementTree as ET

import pytest

from helpers import SITE_ARGS, failed_tasks, playbook, run, settled_rows, task_results

USAGE_PLAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "slurm_usage.yml")
TUNING_PLAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "slurm_tuning.yml")
PRICE_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "local_cloud", "files",
                           "price_table.json")

pytestmark = pytest.mark.integration

TASK = "Keep Slurm's accounts, users and QOS as declared"
USER = "ec2-user"
DECLARED = {
    "slurm_accounts_qos": [{"name": "long", "description": "Jobs of up to three days", "max_wall": "3-00:00:00",
                            "priority": 10, "max_tres_per_user": "cpu=64,node=4"}],
    "slurm_accounts_accounts": [
        {"name": "physics", "description": "Physics department", "fairshare": 60, "qos": ["normal", "long"],
         "default_qos": "normal"},
        {"name": "theory", "parent": "physics"},
        {"name": "chemistry", "fairshare": 40},
    ],
    "slurm_accounts_users": [{"name": USER, "accounts": ["chemistry", "physics"], "default_account": "chemistry"}],
}


def _site(tmp_path, declared, *args):
    extra = tmp_path / "accounts.json"
    extra.write_text(json.dumps(declared))
    return playbook("site.yml", *SITE_ARGS, "--tags", "slurm_accounts", "-e", "@%s" % extra, *args)


def _result(data):
    return task_results(data, TASK)["hpc-cluster-head"]


def _held():
    """What slurmdbd holds, through sacctmgr's own parsable output."""
    def rows(*args):
        out = run(["sacctmgr", "--noheader", "--parsable2", "show", *args]).stdout
        return [line.split("|") for line in out.splitlines() if line]
    return {
        "qos": {r[0]: r[1:] for r in rows("qos", "format=Name,Priority,MaxWall,MaxTRESPU")},
        "accounts": {r[0]: r[1:] for r in rows("association", "format=Account,User,ParentName,Share,QOS,DefaultQOS")
                     if not r[1]},
        "users": sorted((r[0], r[1]) for r in rows("association", "format=User,Account") if r[0]),
        "defaults": dict(rows("user", "format=User,DefaultAccount")),
    }


def _purge(tmp_path):
    rc, data = _site(tmp_path, {"slurm_accounts_purge": True})
    assert rc == 0, failed_tasks(data)


@pytest.fixture(scope="module")
def fresh(cluster, tmp_path_factory):
    """Slurm's own only (what an earlier, failed run declared is purged first, and after the module)."""
    tmp_path = tmp_path_factory.mktemp("accounts")
    if sorted(_held()["accounts"]) != ["root"]:
        _purge(tmp_path)
    held = _held()
    assert sorted(held["accounts"]) == ["root"] and held["users"] == [("root", "root")], held
    yield held
    _purge(tmp_path)


def test_check_mode_lists_the_commands_and_changes_nothing(fresh, tmp_path):
    rc, data = _site(tmp_path, DECLARED, "--check", "--diff")
    assert rc == 0, failed_tasks(data)
    result = _result(data)
    assert result["changed"] is True
    assert [c[:3] for c in result["commands"]] == [
        ["add", "qos", "long"], ["add", "account", "chemistry"], ["add", "account", "physics"],
        ["add", "account", "theory"], ["add", "user", USER]]
    assert sorted(result["accounts"]) == ["chemistry", "physics", "root", "theory"]
    assert "physics" in result["diff"]["after"]["accounts"] and "physics" not in result["diff"]["before"]["accounts"]
    assert _held() == fresh


def test_the_declaration_is_made_and_jobs_are_charged_to_it(fresh, tmp_path):
    rc, data = _site(tmp_path, DECLARED)
    assert rc == 0, failed_tasks(data)
    assert _result(data)["changed"] is True
    held = _held()
    assert held["qos"]["long"] == ["10", "3-00:00:00", "cpu=64,node=4"], held["qos"]
    assert held["accounts"]["physics"][1:5] == ["root", "60", "long,normal", "normal"], held["accounts"]
    assert held["accounts"]["theory"][1] == "physics" and held["accounts"]["chemistry"][2] == "40", held["accounts"]
    assert [a for u, a in held["users"] if u == USER] == ["chemistry", "physics"]
    assert held["defaults"][USER] == "chemistry"

    # A job without --account is charged to the default account; one with it, to physics under QOS long.
    plain = run(["sbatch", "--parsable", "--wait", "--job-name=acct-default", "--output=/dev/null", "--wrap=true"],
                user=USER, timeout=300).stdout.strip()
    long = run(["sbatch", "--parsable", "--wait", "--job-name=acct-physics", "--account=physics", "--qos=long",
                "--output=/dev/null", "--wrap=true"], user=USER, timeout=300).stdout.strip()
    settled_rows([plain, long])
    out = run(["sacct", "--noheader", "--parsable2", "--allocations", "--jobs=%s,%s" % (plain, long),
               "--format=JobID,Account,QOS,State"]).stdout
    rows = {r.split("|")[0]: r.split("|")[1:] for r in out.splitlines() if r}
    assert rows[plain] == ["chemistry", "normal", "COMPLETED"], rows
    assert rows[long] == ["physics", "long", "COMPLETED"], rows


@pytest.fixture(scope="module")
def since(fresh):
    """When the accounts were new: every job charged to them since is this module's."""
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def test_usage_per_account_is_what_the_jobs_used(since):
    """Two jobs of a few seconds, on 2 nodes and on 1: slurm_usage's node-hours per account are sacct's
    elapsed seconds times nodes, and the cost is the node-hours at c5n.large's price."""
    jobs = [run(["sbatch", "--parsable", "--wait", "--job-name=acct-usage", "--account=" + account, "--nodes=%d" % nodes,
                 "--output=/dev/null", "--wrap=sleep 3"], user=USER, timeout=300).stdout.strip()
            for account, nodes in (("physics", 2), ("chemistry", 1))]
    settled_rows(jobs)
    rc, data = playbook(USAGE_PLAY, "-e", "usage_start=" + since)
    assert rc == 0, failed_tasks(data)
    usage = task_results(data, "Read the usage")["hpc-cluster-head"]
    out = run(["sacct", "--noheader", "--parsable2", "--allocations", "--allusers", "--starttime=" + since,
               "--format=Account,ElapsedRaw,NNodes"]).stdout
    used = {}
    for account, elapsed, nodes in (line.split("|") for line in out.splitlines() if line):
        used[account] = used.get(account, 0) + int(elapsed) * int(nodes) / 3600.0
    accounts = {row["account"]: row for row in usage["by_account"]}
    for account in ("physics", "chemistry"):
        assert used[account] >= 3 / 3600.0, used
        assert accounts[account]["node_hours"] == pytest.approx(used[account], abs=1e-6), (accounts, used)
        assert accounts[account]["cost"] == pytest.approx(used[account] * 0.108, abs=1e-6), accounts
    assert {row["instance_type"] for row in usage["by_instance_type"]} == {"c5n.large"}
    assert usage["price_source"] == "test table"


def test_the_usage_report_is_what_the_jobs_used_at_the_emulators_prices(since, tmp_path):
    """usage_report.yml (after the jobs above): the CSV's node-hours per account are sacct's over the
    report's period, the cost is those node-hours at the price the emulator's Price List API serves,
    and both charts name each account; the files are the report reader's only."""
    rc, data = playbook("usage_report.yml", "-e", "usage_report_dir=%s" % tmp_path, "-e", "usage_report_weeks=1")
    assert rc == 0, failed_tasks(data)
    usage = task_results(data, "Read the usage and cost")["hpc-cluster-head"]
    assert usage["price_source"].startswith("on_demand: AWS Price List API at http://127.0.0.1:"), usage["price_source"]
    folder = tmp_path / "hpc-cluster"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    with open(folder / "usage-per-account-and-week.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    report = {}
    for row in rows:
        report[row["account"]] = report.get(row["account"], 0) + float(row["node_hours"])
    out = run(["sacct", "--noheader", "--parsable2", "--allocations", "--allusers", "--starttime=" + usage["period"]["start"],
               "--format=Account,ElapsedRaw,NNodes"]).stdout
    used = {}
    for account, elapsed, nodes in (line.split("|") for line in out.splitlines() if line):
        used[account] = used.get(account, 0) + int(elapsed) * int(nodes) / 3600.0
    with open(PRICE_TABLE, encoding="utf-8") as handle:
        price = json.load(handle)["regions"]["us-east-1"]["on_demand"]["c5n.large"]
    costs = {row["account"]: row["cost"] for row in usage["by_account"]}
    for account in ("physics", "chemistry"):
        assert report[account] == pytest.approx(used[account], abs=1e-3), (report, used)
        assert costs[account] == pytest.approx(used[account] * price, abs=1e-6), (costs, used)
    for chart in ("node-hours-per-account-and-week.svg", "cost-per-account-and-week.svg"):
        path = folder / chart
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        texts = {"".join(element.itertext()) for element in ET.parse(path).iter() if element.tag.endswith("text")}
        assert {"physics", "chemistry"} <= texts, (chart, texts)


def test_bad_report_settings_are_refused_naming_each_and_write_nothing(fresh, tmp_path):
    rc, data = playbook("usage_report.yml", "-e", "usage_report_dir=%s" % tmp_path, "-e", "usage_report_weeks=two",
                        "-e", '{"usage_report_prices": ["c5n.large"]}')
    assert rc != 0
    message = task_results(data, "Check the report's settings")["hpc-cluster-head"]["msg"]
    assert message == ("usage_report_weeks: two is not a whole number of weeks; give 1 or more; "
                       "usage_report_prices: not a mapping of instance type to {on_demand: N, spot: N}"), message
    assert list(tmp_path.iterdir()) == []


def test_a_second_run_changes_nothing(fresh, tmp_path):
    rc, data = _site(tmp_path, DECLARED)
    assert rc == 0, failed_tasks(data)
    result = _result(data)
    assert result["changed"] is False and result["commands"] == [], result["commands"]


def test_with_enforced_associations_a_user_submits_only_to_the_accounts_given(fresh):
    """AccountingStorageEnforce=associations (through slurm_tuning, a slurmctld restart): the declared
    user's job under one of its accounts is taken, under an account it was not given it is refused."""
    rc, data = playbook(TUNING_PLAY, "-e", '{"slurm_tuning_extra_settings": {"AccountingStorageEnforce": "associations"}}')
    assert rc == 0, failed_tasks(data)
    try:
        config = run(["scontrol", "show", "config"]).stdout
        assert any(line.split("=")[0].strip() == "AccountingStorageEnforce" and "associations" in line
                   for line in config.splitlines()), config
        held = run(["sbatch", "--parsable", "--hold", "--account=physics", "--output=/dev/null", "--wrap=true"], user=USER)
        run(["scancel", held.stdout.strip()])
        refused = run(["sbatch", "--parsable", "--hold", "--account=theory", "--output=/dev/null", "--wrap=true"], user=USER,
                      check=False)
        assert refused.returncode != 0 and "Invalid account" in refused.stderr, refused.stdout + refused.stderr
    finally:
        rc, data = playbook(TUNING_PLAY)
        assert rc == 0, failed_tasks(data)


def test_a_wrong_declaration_is_refused_naming_the_field_and_changes_nothing(fresh, tmp_path):
    before = _held()
    wrong = json.loads(json.dumps(DECLARED))
    wrong["slurm_accounts_accounts"][2]["fairshare"] = 10
    wrong["slurm_accounts_accounts"].append({"name": "biology", "parent": "life-sciences"})
    rc, data = _site(tmp_path, wrong)
    assert rc != 0
    message = _result(data)["msg"]
    assert "nothing was changed" in message, message
    assert "accounts[3].parent: life-sciences is no account declared in accounts or held by Slurm" in message, message
    assert _held() == before


def test_a_change_is_applied_alone_and_purge_leaves_slurms_own(fresh, tmp_path):
    changed = json.loads(json.dumps(DECLARED))
    changed["slurm_accounts_accounts"][2]["fairshare"] = 10
    changed["slurm_accounts_users"][0]["accounts"] = ["chemistry"]
    rc, data = _site(tmp_path, changed, "--diff")
    assert rc == 0, failed_tasks(data)
    result = _result(data)
    assert result["commands"] == [
        ["modify", "account", "where", "name=chemistry", "cluster=hpc-cluster", "set", "Fairshare=10"],
        ["delete", "user", "where", "name=%s" % USER, "cluster=hpc-cluster", "account=physics"]]
    assert result["diff"]["before"]["accounts"]["chemistry"]["fairshare"] == "40"
    assert result["diff"]["after"]["accounts"]["chemistry"]["fairshare"] == "10"
    assert [a for u, a in _held()["users"] if u == USER] == ["chemistry"]

    _purge(tmp_path)
    held = _held()
    assert sorted(held["accounts"]) == ["root"] and held["users"] == [("root", "root")], held
    assert sorted(held["qos"]) == ["normal"], held["qos"]
