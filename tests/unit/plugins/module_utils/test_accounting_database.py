"""A config's Database checked against an AWS account (moto): the endpoint must be an RDS database
the account has, the password comes from the secret, and every refusal names its field."""

import boto3
import pytest
from moto import mock_aws

from ansible_collections.hpc.parallelcluster.plugins.module_utils import accounting_database as adb

REGION = "us-east-1"


@pytest.fixture
def account():
    with mock_aws():
        rds = boto3.client("rds", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        instance = rds.create_db_instance(DBInstanceIdentifier="acct", Engine="mysql", EngineVersion="8.0.39", DBInstanceClass="db.t3.micro",
                                          AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="pw-123456")
        arn = secrets.create_secret(Name="acct-pw", SecretString="s3cret'pw")["ARN"]
        endpoint = instance["DBInstance"]["Endpoint"]
        yield {"rds": rds, "secrets": secrets, "arn": arn,
               "uri": "%s:%d" % (endpoint["Address"], endpoint["Port"])}


def _settings(account, **changes):
    settings = {"Uri": account["uri"], "UserName": "admin", "PasswordSecretArn": account["arn"]}
    settings.update(changes)
    return settings


def test_a_database_the_account_has_gives_the_secrets_password(account):
    target = adb.resolve(_settings(account), "hpc-cluster", account["secrets"], account["rds"])
    assert target == adb.DatabaseTarget("admin", "s3cret'pw", "hpc_cluster", account["uri"].lower())


def test_database_name_wins_over_the_cluster_name(account):
    target = adb.resolve(_settings(account, DatabaseName="slurm_acct"), "hpc-cluster", account["secrets"], account["rds"])
    assert target.name == "slurm_acct"


def test_an_endpoint_the_account_lacks_is_refused_naming_the_uri(account):
    with pytest.raises(adb.DatabaseError, match=r"Database\.Uri: other\.example\.com:3306 is the endpoint of no RDS"):
        adb.resolve(_settings(account, Uri="other.example.com"), "c", account["secrets"], account["rds"])


def test_a_missing_secret_is_refused_naming_the_arn_field(account):
    missing = account["arn"].replace("acct-pw", "gone")
    with pytest.raises(adb.DatabaseError, match=r"Database\.PasswordSecretArn: the account has no secret"):
        adb.resolve(_settings(account, PasswordSecretArn=missing), "c", account["secrets"], account["rds"])


@pytest.mark.parametrize("user", ["", "9admin", "ad'min", "a" * 33])
def test_a_user_name_that_is_no_database_user_is_refused_before_any_call(user):
    with pytest.raises(adb.DatabaseError, match=r"Database\.UserName"):
        adb.resolve({"Uri": "h:3306", "UserName": user, "PasswordSecretArn": "arn:x:secret"}, "c", None, None)


@pytest.mark.parametrize("uri, expected", [("Db.Example.com:3307", ("db.example.com", 3307)),
                                           ("db.example.com", ("db.example.com", 3306))])
def test_uri_port_defaults_to_mysqls(uri, expected):
    assert adb.split_uri(uri) == expected


@pytest.mark.parametrize("uri", ["", ":3306", "host:port", "host:70000"])
def test_a_uri_that_is_not_host_port_is_refused(uri):
    with pytest.raises(adb.DatabaseError, match=r"Database\.Uri"):
        adb.split_uri(uri)


def test_settings_are_read_from_the_config():
    assert adb.database_settings({"Scheduling": {"SlurmSettings": {"Database": {"Uri": "h"}}}}) == {"Uri": "h"}
    assert adb.database_settings({"Scheduling": {"SlurmSettings": {}}}) is None
    assert adb.database_settings({}) is None
