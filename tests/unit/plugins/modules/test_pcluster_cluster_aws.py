"""pcluster_cluster with provider aws, run as Ansible runs it, against the pcluster.lib fake.

The fake answers in ParallelCluster's documented shapes (its own API model classes), so these
tests follow the module through create, update (with and without a fleet stop), delete, the
waits and the failure paths without an AWS account.
"""

import copy
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hpc.parallelcluster.plugins.module_utils import aws_cluster
from ansible_collections.hpc.parallelcluster.plugins.module_utils import backend_factory
from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.modules import pcluster_cluster
from ansible_collections.hpc.parallelcluster.plugins.modules import pcluster_cluster_info
from pcluster_fake import FakePclusterLib

NAME = "hpc-cluster"

CONFIG = {
    "Region": "us-east-1",
    "Image": {"Os": "alinux2"},
    "HeadNode": {"InstanceType": "m5.large", "Networking": {"SubnetId": "subnet-12345678"},
                 "Ssh": {"KeyName": "hpc-key"}},
    "Scheduling": {
        "Scheduler": "slurm",
        "SlurmSettings": {"ScaledownIdletime": 10},
        "SlurmQueues": [{
            "Name": "compute",
            "ComputeResources": [{"Name": "compute-nodes", "InstanceType": "c5n.large", "MinCount": 0,
                                  "MaxCount": 10}],
            "Networking": {"SubnetIds": ["subnet-87654321"]},
        }],
    },
}


def _config(edit=None):
    config = copy.deepcopy(CONFIG)
    if edit:
        edit(config)
    return config


@pytest.fixture
def fake(monkeypatch):
    lib = FakePclusterLib(steps=2)
    monkeypatch.setattr(aws_cluster, "load_pcluster_lib", lambda: lib)
    monkeypatch.setattr(backend_factory, "load_pcluster_lib", lambda: lib)
    original = aws_cluster.AwsClusterBackend.__init__

    def init(self, api, **kwargs):
        # No real sleeping, and the presigned configuration URL is read from the fake.
        kwargs.setdefault("fetch_config", lib.fetch)
        kwargs.setdefault("sleep", lambda seconds: None)
        original(self, api, **kwargs)
    monkeypatch.setattr(aws_cluster.AwsClusterBackend, "__init__", init)
    monkeypatch.setattr(backend_factory, "apply_environment", lambda env: None)
    return lib


def run(capsys, check_mode=False, diff=False, **args):
    args.setdefault("name", NAME)
    args.setdefault("provider", "aws")
    args.setdefault("region", "us-east-1")
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            pcluster_cluster.main()
    return json.loads(capsys.readouterr().out)


def test_create_waits_for_complete_and_is_idempotent(fake, capsys):
    result = run(capsys, config=_config())
    assert not result.get("failed"), result
    assert result["changed"] is True
    cluster = result["cluster"]
    assert cluster["clusterStatus"] == "CREATE_COMPLETE"
    assert cluster["computeFleetStatus"] == "RUNNING"
    assert cluster["clusterConfiguration"] == CONFIG
    assert cluster["headNode"]["instanceType"] == "m5.large"
    assert result["validation_messages"] == []
    create = dict(fake.calls)["create_cluster"]
    assert create["validation_failure_level"] == "ERROR" and create["rollback_on_failure"] is True
    assert create["region"] == "us-east-1"

    again = run(capsys, config=_config())
    assert again["changed"] is False
    assert fake.operations().count("create_cluster") == 1


def test_create_without_wait_returns_in_progress(fake, capsys):
    result = run(capsys, config=_config(), wait=False)
    assert result["changed"] is True
    assert result["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"


def test_check_mode_is_pclusters_dry_run(fake, capsys):
    fake.dryrun_messages = [{"level": "WARNING", "type": "KeyPairValidator", "message": "no key", "id": "k"}]
    result = run(capsys, check_mode=True, config=_config(), suppress_validators=["type:InstanceTypeValidator"])
    assert result["changed"] is True
    assert result["validation_messages"] == [{"level": "WARNING", "type": "KeyPairValidator", "message": "no key",
                                              "id": "k"}]
    dry = dict(fake.calls)["create_cluster"]
    assert dry["dryrun"] is True and dry["suppress_validators"] == ["type:InstanceTypeValidator"]
    assert fake.clusters == {}


def test_check_mode_refused_config_fails_with_the_validators_messages(fake, capsys):
    fake.validation_errors = [{"level": "ERROR", "type": "CustomAmiTagValidator",
                               "message": "The image id '[ami-12345678]' does not exist"}]
    result = run(capsys, check_mode=True, config=_config(lambda c: c["Image"].update(CustomAmi="ami-12345678")))
    assert result["failed"] is True
    assert "CustomAmiTagValidator" in result["msg"] and "ami-12345678" in result["msg"]
    assert result["validation_messages"][0]["type"] == "CustomAmiTagValidator"
    assert fake.clusters == {}


def test_invalid_config_is_refused_by_the_shared_schema_before_any_call(fake, capsys):
    result = run(capsys, config=_config(lambda c: c["HeadNode"].update(InstanceTyp="m5.large")))
    assert result["failed"] is True
    assert "HeadNode.InstanceTyp" in [e["field"] for e in result["errors"]]
    assert fake.calls == []


def test_create_failed_reports_failures_and_stack_events(fake, capsys):
    fake.will_fail("create")
    result = run(capsys, config=_config())
    assert result["failed"] is True
    assert result["failures"] == [{"failureCode": "HeadNodeBootstrapFailure",
                                   "failureReason": "Cluster creation timed out. Failed to bootstrap the head node."}]
    assert "CREATE_FAILED" in result["msg"] and "HeadNodeBootstrapFailure" in result["msg"]
    reasons = [e.get("resourceStatusReason") for e in result["stack_events"]]
    assert "Cluster creation timed out. Failed to bootstrap the head node." in reasons
    assert {"eventId", "logicalResourceId", "resourceStatus", "resourceType", "timestamp"} <= set(
        result["stack_events"][0])
    assert result["cluster"]["clusterStatus"] == "CREATE_FAILED"
    assert result["cluster"]["cloudFormationStackStatus"] == "ROLLBACK_COMPLETE"

    # A second run deletes the failed stack and creates the cluster again.
    retry = run(capsys, config=_config())
    assert retry["cluster"]["clusterStatus"] == "CREATE_COMPLETE"
    ops = fake.operations()
    assert ops.index("delete_cluster") < len(ops) - 1 - ops[::-1].index("create_cluster")


def test_rollback_on_failure_false_keeps_the_failed_stack(fake, capsys):
    fake.will_fail("create")
    result = run(capsys, config=_config(), rollback_on_failure=False)
    assert result["failed"] is True
    assert dict(fake.calls)["create_cluster"]["rollback_on_failure"] is False
    assert result["cluster"]["cloudFormationStackStatus"] == "CREATE_FAILED"


def test_update_allowed_with_the_fleet_running(fake, capsys):
    run(capsys, config=_config())
    bigger = _config(lambda c: c["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(MaxCount=20))
    result = run(capsys, diff=True, config=bigger)
    assert result["changed"] is True
    assert result["cluster"]["clusterStatus"] == "UPDATE_COMPLETE"
    assert result["cluster"]["clusterConfiguration"] == bigger
    assert result["update_plan"]["fleet_stop"] is False
    assert "MaxCount: 20" in result["diff"]["after"] and "MaxCount: 10" in result["diff"]["before"]
    assert "update_compute_fleet" not in fake.operations()


def test_update_needing_a_fleet_stop_is_refused_without_allow_fleet_stop(fake, capsys):
    run(capsys, config=_config())
    slower = _config(lambda c: c["Scheduling"]["SlurmSettings"].update(ScaledownIdletime=5))
    result = run(capsys, config=slower)
    assert result["failed"] is True
    assert "allow_fleet_stop: true" in result["msg"] and "ScaledownIdletime" in result["msg"]
    assert "update_cluster" not in fake.operations()
    assert fake.clusters[NAME].config == CONFIG


def test_update_stops_the_fleet_updates_waits_and_starts_it(fake, capsys):
    run(capsys, config=_config())
    slower = _config(lambda c: c["Scheduling"]["SlurmSettings"].update(ScaledownIdletime=5))
    result = run(capsys, config=slower, allow_fleet_stop=True, wait=False)
    assert not result.get("failed"), result
    assert result["update_plan"]["fleet_stop"] is True
    ops = [(op, kw.get("status")) for op, kw in fake.calls if op in ("update_compute_fleet", "update_cluster")]
    assert ops == [("update_compute_fleet", "STOP_REQUESTED"), ("update_cluster", None),
                   ("update_compute_fleet", "START_REQUESTED")]
    assert result["cluster"]["clusterStatus"] == "UPDATE_COMPLETE"
    assert result["cluster"]["computeFleetStatus"] == "RUNNING"
    assert fake.clusters[NAME].config == slower


def test_compute_fleet_stopped_then_running_like_update_compute_fleet(fake, capsys):
    run(capsys, config=_config())
    planned = run(capsys, check_mode=True, config=_config(), compute_fleet="stopped")
    assert planned["changed"] is True and planned["compute_fleet_change"] == {"before": "RUNNING", "after": "STOPPED"}
    assert not [op for op, _kw in fake.calls if op == "update_compute_fleet"]
    stopped = run(capsys, config=_config(), compute_fleet="stopped")
    assert not stopped.get("failed"), stopped
    assert stopped["changed"] is True and stopped["cluster"]["computeFleetStatus"] == "STOPPED"
    again = run(capsys, config=_config(), compute_fleet="stopped")
    assert again["changed"] is False and "compute_fleet_change" not in again
    started = run(capsys, config=_config(), compute_fleet="running")
    assert started["cluster"]["computeFleetStatus"] == "RUNNING"
    ops = [kw.get("status") for op, kw in fake.calls if op == "update_compute_fleet"]
    assert ops == ["STOP_REQUESTED", "START_REQUESTED"]


@pytest.mark.parametrize("strategy, fleet_stop", [("TERMINATE", False), ("DRAIN", True)])
def test_queue_update_strategy_decides_whether_a_queue_removal_stops_the_fleet(fake, capsys, strategy, fleet_stop):
    def two_queues(c):
        c["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = strategy
        extra = copy.deepcopy(c["Scheduling"]["SlurmQueues"][0])
        extra["Name"] = "extra"
        c["Scheduling"]["SlurmQueues"].append(extra)
    run(capsys, config=_config(two_queues))
    result = run(capsys, config=_config(lambda c: c["Scheduling"]["SlurmSettings"].update(
        QueueUpdateStrategy=strategy)), allow_fleet_stop=True)
    assert not result.get("failed"), result
    assert result["update_plan"]["queue_update_strategy"] == strategy
    assert result["update_plan"]["fleet_stop"] is fleet_stop
    assert ("update_compute_fleet" in fake.operations()) is fleet_stop
    assert [q["Name"] for q in result["cluster"]["clusterConfiguration"]["Scheduling"]["SlurmQueues"]] == ["compute"]


def test_update_check_mode_returns_the_change_set(fake, capsys):
    run(capsys, config=_config())
    bigger = _config(lambda c: c["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0].update(MaxCount=20))
    result = run(capsys, check_mode=True, config=bigger)
    assert result["changed"] is True
    assert result["change_set"] == [{"parameter": "Scheduling.SlurmQueues[compute].ComputeResources[compute-nodes]"
                                                  ".MaxCount", "currentValue": "10", "requestedValue": "20"}]
    assert fake.clusters[NAME].config == CONFIG


def test_update_failed_reports_why_and_restarts_the_fleet(fake, capsys):
    run(capsys, config=_config())
    fake.will_fail("update", code="UpdateFailure", reason="Resource handler returned message: quota exceeded",
                   resource="ComputeFleetLaunchTemplate")
    slower = _config(lambda c: c["Scheduling"]["SlurmSettings"].update(ScaledownIdletime=5))
    result = run(capsys, config=slower, allow_fleet_stop=True)
    assert result["failed"] is True
    assert "UPDATE_FAILED" in result["msg"]
    assert result["failures"] == [{"failureCode": "UpdateFailure",
                                   "failureReason": "Resource handler returned message: quota exceeded"}]
    assert result["stack_events"][0]["resourceStatus"] in ("UPDATE_ROLLBACK_COMPLETE", "UPDATE_FAILED")
    assert fake.operations()[-4:][0] == "update_compute_fleet" or "START_REQUESTED" in [
        kw.get("status") for op, kw in fake.calls]
    assert fake.clusters[NAME].fleet in ("START_REQUESTED", "STARTING", "RUNNING")
    assert fake.clusters[NAME].config == CONFIG


def test_delete_waits_until_gone_and_is_idempotent(fake, capsys):
    run(capsys, config=_config())
    result = run(capsys, state="absent", diff=True)
    assert result["changed"] is True and result["cluster"] == {}
    assert fake.clusters == {}
    assert "Scheduler: slurm" in result["diff"]["before"]
    assert run(capsys, state="absent")["changed"] is False


def test_delete_in_check_mode_changes_nothing(fake, capsys):
    run(capsys, config=_config())
    result = run(capsys, state="absent", check_mode=True)
    assert result["changed"] is True
    assert NAME in fake.clusters and "delete_cluster" not in fake.operations()


def test_wait_times_out_with_the_last_status(fake, capsys):
    fake.steps = 1000
    result = run(capsys, config=_config(), wait_timeout=0)
    assert result["failed"] is True
    assert "timed out" in result["msg"] and "CREATE_IN_PROGRESS" in result["msg"]


# ---------------------------------------------------------------- the backend alone


def _backend(fake, **kwargs):
    delays = []
    backend = aws_cluster.AwsClusterBackend(fake, region="us-east-1", fetch_config=fake.fetch,
                                            sleep=delays.append, **kwargs)
    return backend, delays


def test_waits_back_off(fake):
    fake.steps = 6
    backend, delays = _backend(fake)
    backend.create(NAME, _config())
    assert delays == [5.0, 10.0, 20.0, 40.0, 60.0]


def test_list_clusters_follows_next_token(fake):
    fake.page_size = 2
    backend, dummy = _backend(fake, wait=False)
    for index in range(5):
        backend.create("c%d" % index, _config())
    names = [c["clusterName"] for c in backend.list_clusters()]
    assert names == ["c0", "c1", "c2", "c3", "c4"]
    assert all(c["clusterStatus"] == "CREATE_IN_PROGRESS" for c in backend.list_clusters())


def test_describe_of_a_missing_cluster_is_none(fake):
    backend, dummy = _backend(fake)
    assert backend.describe("nothing-here") is None
    assert backend.delete("nothing-here") is False


def test_unreadable_configuration_url_is_an_error(fake):
    backend, dummy = _backend(fake)
    backend.create(NAME, _config())

    def forbidden(url):
        raise IOError("403 Forbidden")
    backend.fetch_config = forbidden
    with pytest.raises(cb.BackendError, match="403 Forbidden"):
        backend.describe(NAME)


def test_api_errors_keep_pclusters_payload(fake):
    backend, dummy = _backend(fake)
    backend.create(NAME, _config())
    with pytest.raises(aws_cluster.PclusterApiError) as caught:
        backend.create(NAME, _config())
    assert caught.value.kind == "BadRequestException"
    assert caught.value.payload == {"message": "Bad Request: cluster 'hpc-cluster' already exists"}


def test_the_fake_checks_arguments_like_pcluster_lib(fake):
    with pytest.raises(TypeError, match="unexpected"):
        fake.describe_cluster(cluster_name=NAME, bogus=1)
    with pytest.raises(TypeError, match="missing"):
        fake.create_cluster(cluster_name=NAME)


def test_aws_environment_maps_connection_options():
    env = aws_cluster.aws_environment({"endpoint_url": "http://127.0.0.1:5151", "access_key": "a", "secret_key": "s",
                                       "profile": None, "region": "eu-west-1"})
    assert env == {"AWS_ENDPOINT_URL": "http://127.0.0.1:5151", "AWS_ACCESS_KEY_ID": "a",
                   "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "eu-west-1"}


# ---------------------------------------------------------------- pcluster_cluster_info


def run_info(capsys, **args):
    args.setdefault("provider", "aws")
    args.setdefault("region", "us-east-1")
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            pcluster_cluster_info.main()
    return json.loads(capsys.readouterr().out)


def test_info_lists_and_describes(fake, capsys):
    backend, dummy = _backend(fake)
    backend.create(NAME, _config())
    fake.will_fail("create")
    with pytest.raises(cb.BackendError):
        backend.create("broken", _config())
    listed = run_info(capsys)
    assert listed["changed"] is False
    assert [(c["clusterName"], c["clusterStatus"]) for c in listed["clusters"]] == [
        ("broken", "CREATE_FAILED"), (NAME, "CREATE_COMPLETE")]
    assert {"cloudformationStackStatus", "cloudformationStackArn", "region", "version", "scheduler"} <= set(
        listed["clusters"][0])
    ready = run_info(capsys, cluster_status=["CREATE_COMPLETE"])
    assert [c["clusterName"] for c in ready["clusters"]] == [NAME]
    described = run_info(capsys, name=NAME)
    assert described["exists"] is True
    assert described["cluster"]["clusterConfiguration"] == CONFIG
    assert described["cluster"]["computeFleetStatus"] == "RUNNING"
    missing = run_info(capsys, name="nothing-here")
    assert missing["exists"] is False and missing["cluster"] == {}


def test_a_rerun_while_creating_waits_for_the_create(fake, capsys):
    run(capsys, config=_config(), wait=False)
    result = run(capsys, config=_config())
    assert result["changed"] is False
    assert result["cluster"]["clusterStatus"] == "CREATE_COMPLETE"
    assert fake.operations().count("create_cluster") == 1


def test_a_rerun_while_deleting_creates_again_after_the_delete(fake, capsys):
    run(capsys, config=_config())
    run(capsys, state="absent", wait=False)
    result = run(capsys, config=_config())
    assert result["changed"] is True
    assert result["cluster"]["clusterStatus"] == "CREATE_COMPLETE"
    assert fake.operations().count("create_cluster") == 2


def test_without_wait_a_busy_cluster_is_an_error(fake, capsys):
    fake.steps = 5
    run(capsys, config=_config(), wait=False)
    result = run(capsys, config=_config(), wait=False)
    assert result["failed"] is True and "CREATE_IN_PROGRESS" in result["msg"]


def test_accounting_rules_apply_on_aws_when_the_config_sets_up_accounting(fake, capsys):
    def accounting(c):
        c["Scheduling"]["SlurmSettings"].update(
            Database={"Uri": "db.example.com:3306", "UserName": "admin",
                      "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"},
            CustomSlurmSettings=[{"AccountingStorageHost": "elsewhere"}])
    result = run(capsys, config=_config(accounting))
    assert result["failed"] is True
    assert "Scheduling.SlurmSettings.CustomSlurmSettings[0].AccountingStorageHost" in [
        e["field"] for e in result["errors"]]
    # Without accounting ParallelCluster does not own the key: the same setting is accepted.
    plain = run(capsys, config=_config(lambda c: c["Scheduling"]["SlurmSettings"].update(
        CustomSlurmSettings=[{"AccountingStorageHost": "elsewhere"}])))
    assert plain["changed"] is True and not plain.get("failed")
