"""A local cluster adopts the subnets and the database secret of a restarted emulator, and only then."""

from ansible_collections.hpc.parallelcluster.plugins.module_utils.network_adoption import (
    adopt_new_secret, adopt_new_subnets, subnet_ids)


def _config(head, queues, max_count=10):
    return {
        "HeadNode": {"InstanceType": "m5.large", "Networking": {"SubnetId": head}},
        "Scheduling": {"Scheduler": "slurm", "SlurmQueues": [
            {"Name": name, "Networking": {"SubnetIds": ids},
             "ComputeResources": [{"Name": "cr", "InstanceType": "c5n.large", "MaxCount": max_count}]}
            for name, ids in queues]},
    }


OLD = _config("subnet-old-public", [("compute", ["subnet-old-private"])])
NEW = _config("subnet-new-public", [("compute", ["subnet-new-private"])])


def test_every_old_subnet_gone_takes_the_new_ids_and_nothing_else():
    desired = _config("subnet-new-public", [("compute", ["subnet-new-private"])], max_count=20)
    adopted = adopt_new_subnets(OLD, desired, lambda _id: False)
    assert subnet_ids(adopted) == ["subnet-new-public", "subnet-new-private"]
    # MaxCount is a real change: it is left to ParallelCluster's update rules.
    assert adopted["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["MaxCount"] == 10
    assert subnet_ids(OLD) == ["subnet-old-public", "subnet-old-private"]  # the input is not modified


def test_an_old_subnet_that_still_exists_means_a_real_change_that_stays_refused():
    assert adopt_new_subnets(OLD, NEW, lambda subnet: subnet == "subnet-old-private") is None


def test_unchanged_ids_ask_nothing():
    asked = []
    assert adopt_new_subnets(OLD, OLD, asked.append) is None
    assert asked == []


def test_a_queue_only_in_the_desired_config_is_left_to_the_update_rules():
    desired = _config("subnet-new-public", [("compute", ["subnet-new-private"]), ("extra", ["subnet-x"])])
    adopted = adopt_new_subnets(OLD, desired, lambda _id: False)
    assert [q["Name"] for q in adopted["Scheduling"]["SlurmQueues"]] == ["compute"]


def _with_secret(arn, uri="db.example.com:3306"):
    return {"Scheduling": {"SlurmSettings": {"Database": {"Uri": uri, "UserName": "admin", "PasswordSecretArn": arn}}}}


def test_a_secret_gone_from_the_emulator_is_replaced_by_the_new_one():
    adopted = adopt_new_secret(_with_secret("arn:old"), _with_secret("arn:new", uri="other:3306"), lambda arn: False)
    assert adopted == _with_secret("arn:new"), "only the ARN is adopted; the Uri follows the update rules"


def test_a_secret_that_still_exists_is_a_real_change():
    assert adopt_new_secret(_with_secret("arn:old"), _with_secret("arn:new"), lambda arn: True) is None


def test_nothing_to_adopt_without_a_database_or_a_change():
    assert adopt_new_secret(_with_secret("arn:old"), _with_secret("arn:old"), lambda arn: False) is None
    assert adopt_new_secret({}, _with_secret("arn:new"), lambda arn: False) is None
    assert adopt_new_secret(_with_secret("arn:old"), {}, lambda arn: False) is None
