"""A local cluster adopts the subnets of a restarted emulator, and only then."""

from ansible_collections.hpc.parallelcluster.plugins.module_utils.network_adoption import adopt_new_subnets, subnet_ids


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
