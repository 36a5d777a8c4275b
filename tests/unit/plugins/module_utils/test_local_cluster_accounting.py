"""Accounting follows the config's Database on the local provider, as on ParallelCluster: with one,
slurmdbd.conf names its user, password and database and slurmctld accounts through slurmdbd;
without one, no accounting files and no accounting daemons."""

import os

import boto3
import pytest
from moto import mock_aws

from ansible_collections.hpc.parallelcluster.plugins.module_utils import accounting_database as adb
from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_cluster
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_types import describe_instance_types
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_cluster import LocalClusterBackend
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths

TARGET = adb.DatabaseTarget("admin", "s3cret", "hpc_cluster", "acct.example.com:3306")
DATABASE = {"Uri": "acct.example.com:3306", "UserName": "admin",
            "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:acct-AbCdEf"}


def _config(database=None):
    settings = {"ScaledownIdletime": 10}
    if database:
        settings["Database"] = database
    return {"Region": "us-east-1", "Scheduling": {"Scheduler": "slurm", "SlurmSettings": settings, "SlurmQueues": [{
        "Name": "compute", "ComputeResources": [{"Name": "cr", "InstanceType": "c5n.large", "MinCount": 0,
                                                 "MaxCount": 2}]}]}}


@pytest.fixture
def make_backend(tmp_path):
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        warnings = []

        def make(resolver):
            backend = LocalClusterBackend(run=None, instance_types=lambda names: describe_instance_types(ec2, names),
                                          paths=LocalPaths.under(tmp_path), warn=warnings.append,
                                          database_resolver=resolver)
            backend.warnings = warnings
            return backend
        yield make


def _resolver(calls):
    def resolve(settings, cluster_name):
        calls.append((settings["Uri"], cluster_name))
        return TARGET
    return resolve


def test_without_database_there_are_no_accounting_files_or_settings(make_backend):
    calls = []
    backend = make_backend(_resolver(calls))
    files = backend.render("hpc-cluster", _config())
    p = backend.paths
    assert p.slurmdbd_conf not in files and p.mariadb_cnf not in files
    assert "AccountingStorage" not in files[os.path.join(p.slurm_etc, "slurm_parallelcluster.conf")][0]
    assert calls == []


def test_with_database_slurmdbd_conf_holds_the_configs_user_and_secret(make_backend):
    calls = []
    backend = make_backend(_resolver(calls))
    files = backend.render("hpc-cluster", _config(DATABASE))
    p = backend.paths
    content, mode, owner = files[p.slurmdbd_conf]
    assert (mode, owner) == (0o600, "slurm")
    assert {"StorageUser=admin", "StoragePass=s3cret", "StorageLoc=hpc_cluster"} <= set(content.splitlines())
    assert "AccountingStorageType=accounting_storage/slurmdbd" in \
        files[os.path.join(p.slurm_etc, "slurm_parallelcluster.conf")][0].splitlines()
    backend.render("hpc-cluster", _config(DATABASE))
    assert calls == [("acct.example.com:3306", "hpc-cluster")], "the AWS API is asked once per config"


def test_a_database_the_account_lacks_fails_the_plan_naming_the_field(make_backend):
    def missing(settings, cluster_name):
        raise adb.DatabaseError("Scheduling.SlurmSettings.Database.Uri: x is the endpoint of no RDS database")
    backend = make_backend(missing)
    with pytest.raises(cb.BackendError, match=r"Database\.Uri: x is the endpoint of no RDS") as caught:
        backend.plan("hpc-cluster", _config(DATABASE))
    assert caught.value.failures[0]["failureCode"] == "SlurmDatabaseFailure"
    with pytest.raises(cb.BackendError, match=r"Database\.Uri"):
        backend.create("hpc-cluster", _config(DATABASE))
    assert not os.path.exists(backend.paths.clusters), "nothing was created"


def test_in_check_mode_a_database_not_created_yet_is_a_warning(make_backend):
    def missing(settings, cluster_name):
        raise adb.DatabaseError("Scheduling.SlurmSettings.Database.PasswordSecretArn: the account has no secret x")
    backend = make_backend(missing)
    changed = backend.plan("hpc-cluster", _config(DATABASE), check_mode=True)
    assert backend.paths.slurmdbd_conf in changed
    assert any("PasswordSecretArn" in w and "unless it exists by then" in w for w in backend.warnings)


class _Daemons:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append(name)
            return False
        return call


def test_a_cluster_without_database_stops_accounting_and_drops_its_files(make_backend):
    backend = make_backend(_resolver([]))
    backend.daemons = _Daemons()
    p = backend.paths
    for path in (p.slurmdbd_conf, p.mariadb_cnf):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("StoragePass=old\n")
    backend._start_daemons("hpc-cluster", _config(), reconfigure=False)
    assert backend.daemons.calls == ["ensure_munge", "stop_accounting", "ensure_slurmctld"]
    assert not os.path.exists(p.slurmdbd_conf) and not os.path.exists(p.mariadb_cnf)


def test_a_cluster_with_database_starts_mariadb_its_user_and_slurmdbd(make_backend):
    backend = make_backend(_resolver([]))
    backend.daemons = _Daemons()
    backend._start_daemons("hpc-cluster", _config(DATABASE), reconfigure=False)
    assert backend.daemons.calls == ["ensure_munge", "ensure_mariadb", "ensure_accounting_user", "ensure_slurmdbd",
                                     "ensure_slurmctld"]


class _RunningDaemons:
    """Every daemon answers; the stops are recorded, the settings files rendered as the real ones."""

    def __init__(self, real):
        self.real = real
        self.calls = []

    def mariadb_cnf_text(self, port):
        return self.real.mariadb_cnf_text(port)

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name,) + args)
            return name.endswith("_ok")
        return call


@pytest.mark.parametrize("stale, stops", [
    ("mariadb_cnf", [("stop_accounting",)]),
    ("slurmdbd_conf", [("stop", "slurmdbd")]),
    (None, []),
])
def test_a_changed_accounting_file_stops_its_daemon_for_the_start_that_follows(make_backend, monkeypatch, stale, stops):
    """MariaDB and slurmdbd read their files at start only: a cluster made with older settings gets
    them at the next site.yml run (update or repair); nothing stops when the files are current."""
    backend = make_backend(_resolver([]))
    backend.daemons = _RunningDaemons(backend.daemons)
    p = backend.paths
    # Files Slurm's user owns are written as root's: the test needs no slurm account.
    monkeypatch.setattr(local_cluster, "_ids", lambda user: (0, 0))
    backend._write_files_stopping_ctld("hpc-cluster", _config(DATABASE))
    if stale:
        with open(getattr(p, stale), "a") as handle:
            handle.write("# an older setting\n")
    backend.daemons.calls = []
    changed = backend._write_files_stopping_ctld("hpc-cluster", _config(DATABASE))
    assert changed == ([getattr(p, stale)] if stale else [])
    assert [call for call in backend.daemons.calls if call[0].startswith("stop")] == stops
