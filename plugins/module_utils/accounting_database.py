# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cluster config's ``Scheduling.SlurmSettings.Database``, checked against the AWS account.

ParallelCluster's head node reads the password from the Secrets Manager secret the config names and
points slurmdbd at the ``Uri``. The local provider does the same against the emulator: the secret
must exist and hold the password, and the ``Uri`` must be the endpoint of an RDS database (instance
or cluster) the account has; the head node's own MariaDB then serves that database. Anything else
is refused before the cluster changes, naming the field.
"""

from __future__ import annotations

import re
from collections import namedtuple

FIELD = "Scheduling.SlurmSettings.Database"

# What slurmdbd.conf needs: StorageUser, StoragePass, StorageLoc, and the endpoint it stands for.
DatabaseTarget = namedtuple("DatabaseTarget", "user password name endpoint")


# A MySQL/MariaDB user name RDS accepts as a master user name (and safe to quote in SQL).
_USER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}", re.ASCII)


class DatabaseError(Exception):
    """The config's Database cannot be served; the message names the field and the fix."""


def database_settings(config):
    """The config's Database section, or None for a cluster without accounting."""
    return ((config.get("Scheduling") or {}).get("SlurmSettings") or {}).get("Database") or None


def database_name(settings, cluster_name):
    """StorageLoc: DatabaseName, or ParallelCluster's default, the cluster name in the characters
    DatabaseName allows (``^[0-9a-z_]+$``)."""
    return settings.get("DatabaseName") or cluster_name.lower().replace("-", "_")


def split_uri(uri):
    """(host, port) of ``host[:port]``; MySQL's 3306 when no port is given, as slurmdbd assumes."""
    host, sep, port = (uri or "").strip().rpartition(":")
    if not sep:
        host, port = port, "3306"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DatabaseError("%s.Uri: %r is not host:port; give the database endpoint, for instance the "
                            "accounting_database role's hpc_database_uri" % (FIELD, uri))
    return host.lower(), int(port)


def _is_aws_error(exc, *codes):
    response = getattr(exc, "response", None) or {}
    return type(exc).__module__.startswith("botocore") and response.get("Error", {}).get("Code") in codes


def read_password(secrets_client, arn):
    """The secret's string, as ParallelCluster's head node reads it (the whole SecretString)."""
    try:
        value = secrets_client.get_secret_value(SecretId=arn).get("SecretString")
    except Exception as exc:  # botocore's ClientError, without importing botocore here
        if _is_aws_error(exc, "ResourceNotFoundException"):
            raise DatabaseError("%s.PasswordSecretArn: the account has no secret %s; create it (the "
                                "accounting_database role does) or correct the ARN" % (FIELD, arn))
        raise
    if not value:
        raise DatabaseError("%s.PasswordSecretArn: secret %s holds no string; store the database password in "
                            "it as plain text" % (FIELD, arn))
    return value


def endpoints(rds_client):
    """{(host, port)} of every RDS database instance and cluster (writer endpoint) of the account."""
    found = set()
    for page in rds_client.get_paginator("describe_db_instances").paginate():
        for instance in page.get("DBInstances", []):
            endpoint = instance.get("Endpoint") or {}
            if endpoint.get("Address"):
                found.add((endpoint["Address"].lower(), int(endpoint.get("Port") or 3306)))
    for page in rds_client.get_paginator("describe_db_clusters").paginate():
        for cluster in page.get("DBClusters", []):
            if cluster.get("Endpoint"):
                found.add((cluster["Endpoint"].lower(), int(cluster.get("Port") or 3306)))
    return found


def resolve(settings, cluster_name, secrets_client, rds_client):
    """The DatabaseTarget of ``settings`` (a config's Database); raises DatabaseError."""
    user = settings.get("UserName") or ""
    if not _USER_NAME.fullmatch(user):
        raise DatabaseError("%s.UserName: %r is not a database user name; use 1 to 32 letters, digits and "
                            "underscores, starting with a letter" % (FIELD, user))
    host, port = split_uri(settings.get("Uri"))
    if (host, port) not in endpoints(rds_client):
        raise DatabaseError("%s.Uri: %s:%d is the endpoint of no RDS database in the account; create the "
                            "database first (the accounting_database role does) or correct the Uri"
                            % (FIELD, host, port))
    password = read_password(secrets_client, settings.get("PasswordSecretArn"))
    return DatabaseTarget(user, password, database_name(settings, cluster_name),
                          "%s:%d" % (host, port))
