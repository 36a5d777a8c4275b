"""slurm_usage as Ansible runs it, with sacct and scontrol answered by fakes."""

from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import SEP
from ansible_collections.hpc.parallelcluster.plugins.modules import slurm_usage
from ansible_collections.hpc.parallelcluster.tests.unit.plugins.module_runner import run_module
from ansible_collections.hpc.parallelcluster.tests.unit.plugins.slurm_fakes import (
    CONFIG_WITHOUT_ACCOUNTING,
    FakeRunner,
)

CONFIG = {"Scheduling": {"SlurmQueues": [
    {"Name": "compute", "ComputeResources": [{"Name": "c5n", "InstanceType": "c5n.large"}]},
    {"Name": "spot-q", "CapacityType": "SPOT",
     "ComputeResources": [{"Name": "big-nodes", "Instances": [{"InstanceType": "c5n.18xlarge"}]}]},
]}}
PRICES = {"c5n.large": {"on_demand": 0.108}, "c5n.18xlarge": {"spot": 1.2}}
HOSTS = {"compute-dy-c5n-[1-2]": "compute-dy-c5n-1\ncompute-dy-c5n-2\n",
         "spot-q-dy-big-nodes-1": "spot-q-dy-big-nodes-1\n"}


def sacct_rows(*rows):
    return "".join(SEP.join(str(v) for v in row) + "\n" for row in rows)


# JobIDRaw, Account, User, Partition, AllocCPUS, NNodes, ElapsedRaw, NodeList, State, Start
JOBS = sacct_rows(
    ("10", "physics", "alice", "compute", 4, 2, 3600, "compute-dy-c5n-[1-2]", "COMPLETED", "2026-11-29T23:30:00"),
    ("11", "physics", "bob", "spot-q", 72, 1, 1800, "spot-q-dy-big-nodes-1", "COMPLETED", "2026-11-30T08:00:00"),
    ("12", "chemistry", "bob", "compute", 2, 1, 0, "None assigned", "CANCELLED by 1000", "Unknown"),
)


def runner(sacct_out=JOBS, config=None):
    def scontrol(args, _kwargs):
        assert args[1:3] == ["show", "hostnames"], args
        return 0, HOSTS[args[3]], ""
    kwargs = {"config": config} if config else {}
    return FakeRunner(sacct=(0, sacct_out, ""), scontrol=scontrol, **kwargs)


def by(rows, key):
    return {row[key]: {k: v for k, v in row.items() if k != key} for row in rows}


def test_usage_and_cost_per_group_from_the_jobs_nodes_and_prices(capsys, monkeypatch):
    fake = runner()
    result = run_module(slurm_usage, {"cluster_config": CONFIG, "prices": PRICES, "start": "2026-11-01"},
                        fake, capsys, monkeypatch)
    assert result["changed"] is False and result["period"] == {"start": "2026-11-01", "end": "now"}
    accounts = by(result["by_account"], "account")
    # Job 10: 2 nodes x 1 h at 0.108 On-Demand; job 11: 1 node x 0.5 h at 1.2 Spot; job 12 never ran.
    assert accounts["physics"] == {"jobs": 2, "core_hours": 4 + 36.0, "node_hours": 2.5, "cost": round(0.216 + 0.6, 6)}
    assert accounts["chemistry"] == {"jobs": 1, "core_hours": 0.0, "node_hours": 0.0, "cost": 0.0}
    assert by(result["by_user"], "user")["bob"]["node_hours"] == 0.5
    assert by(result["by_partition"], "partition")["spot-q"]["cost"] == 0.6
    types = by(result["by_instance_type"], "instance_type")
    assert types == {"c5n.large": {"jobs": 1, "core_hours": 4.0, "node_hours": 2.0, "cost": 0.216},
                     "c5n.18xlarge": {"jobs": 1, "core_hours": 36.0, "node_hours": 0.5, "cost": 0.6}}
    assert result["total"] == {"jobs": 3, "core_hours": 40.0, "node_hours": 2.5, "cost": 0.816}
    # Job 10 started on Sunday 29 November (the week of Monday the 23rd), job 11 on Monday the 30th;
    # job 12 never started and is in no week.
    assert result["by_week"] == [
        {"week": "2026-11-23", "by_account": [{"account": "physics", "jobs": 1, "core_hours": 4.0, "node_hours": 2.0, "cost": 0.216}]},
        {"week": "2026-11-30", "by_account": [{"account": "physics", "jobs": 1, "core_hours": 36.0, "node_hours": 0.5, "cost": 0.6}]},
    ]
    sacct = fake.commands("sacct")[0]
    assert "--allusers" in sacct and "--starttime=2026-11-01" in sacct and "--endtime=now" in sacct
    assert len([c for c in fake.commands("scontrol") if c[2] == "hostnames"]) == 2  # once per distinct host list


def test_a_missing_price_makes_the_cost_null_and_is_named(capsys, monkeypatch):
    result = run_module(slurm_usage, {"cluster_config": CONFIG, "prices": {"c5n.large": {"on_demand": 0.108}}},
                        runner(), capsys, monkeypatch)
    accounts = by(result["by_account"], "account")
    assert accounts["physics"]["cost"] is None and accounts["chemistry"]["cost"] == 0.0
    assert result["total"]["cost"] is None and result["total"]["node_hours"] == 2.5
    assert result["warnings"] == ["no price for c5n.18xlarge (spot): their cost is null; add them to prices"]


def test_a_cluster_without_accounting_is_refused_saying_what_to_do(capsys, monkeypatch):
    fake = runner(config=CONFIG_WITHOUT_ACCOUNTING)
    result = run_module(slurm_usage, {}, fake, capsys, monkeypatch)
    assert result["failed"] is True and "Scheduling.SlurmSettings.Database" in result["msg"]
    assert fake.commands("sacct") == []


def test_a_price_that_is_not_a_table_is_refused_naming_it(capsys, monkeypatch):
    result = run_module(slurm_usage, {"prices": {"c5n.large": 0.108}}, runner(), capsys, monkeypatch)
    assert result["failed"] is True and result["msg"].startswith("prices.c5n.large: 0.108 is not a mapping")
