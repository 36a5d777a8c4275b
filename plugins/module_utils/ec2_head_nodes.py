# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Head nodes of ParallelCluster clusters in an AWS account, found by the EC2 tags ParallelCluster
puts on every instance it launches.

One DescribeInstances per region is enough: ParallelCluster tags its instances with
``parallelcluster:cluster-name``, ``parallelcluster:node-type`` (``HeadNode``, ``Compute``,
``LoginNode``), ``parallelcluster:version`` and ``parallelcluster:attributes`` (``<os>,
<scheduler>, <version>, <architecture>``). Each head node becomes a record in the shape of
``pcluster describe-cluster``, so the inventory treats both providers alike.
"""

from __future__ import annotations

CLUSTER_NAME_TAG = "parallelcluster:cluster-name"
NODE_TYPE_TAG = "parallelcluster:node-type"
VERSION_TAG = "parallelcluster:version"
ATTRIBUTES_TAG = "parallelcluster:attributes"
HEAD_NODE = "HeadNode"


def boto3_filters(filters):
    """EC2 filters from an amazon.aws.aws_ec2-style dict (a value may be a scalar or a list)."""
    result = []
    for name, values in (filters or {}).items():
        if not isinstance(values, list):
            values = [values]
        result.append({"Name": name, "Values": [str(v) for v in values]})
    return result


def head_node_filters(filters=None):
    """Only ParallelCluster head nodes, plus the user's filters (running ones unless they say otherwise)."""
    user = boto3_filters(filters)
    base = [{"Name": "tag:%s" % NODE_TYPE_TAG, "Values": [HEAD_NODE]}, {"Name": "tag-key", "Values": [CLUSTER_NAME_TAG]}]
    if not any(f["Name"] == "instance-state-name" for f in user):
        base.append({"Name": "instance-state-name", "Values": ["running"]})
    return base + user


def parse_attributes(value):
    """``parallelcluster:attributes`` ("alinux2, slurm, 3.15.1, x86_64") as a dict."""
    parts = [p.strip() for p in (value or "").split(",")]
    parts += [None] * (4 - len(parts))
    return {"os": parts[0] or None, "scheduler": parts[1], "version": parts[2], "architecture": parts[3]}


def _iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def instance_record(instance, region):
    """A head node instance (DescribeInstances shape) as a describe-cluster-shaped record."""
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags") or []}
    attributes = parse_attributes(tags.get(ATTRIBUTES_TAG))
    return {
        "clusterName": tags.get(CLUSTER_NAME_TAG),
        "region": region,
        "version": tags.get(VERSION_TAG) or attributes["version"],
        "provider": "aws",
        "os": attributes["os"],
        "architecture": attributes["architecture"],
        "scheduler": {"type": attributes["scheduler"]},
        "headNode": {
            "instanceId": instance.get("InstanceId"),
            "instanceType": instance.get("InstanceType"),
            "privateIpAddress": instance.get("PrivateIpAddress"),
            "publicIpAddress": instance.get("PublicIpAddress"),
            "privateDnsName": instance.get("PrivateDnsName") or None,
            "publicDnsName": instance.get("PublicDnsName") or None,
            "state": (instance.get("State") or {}).get("Name"),
            "launchTime": _iso(instance.get("LaunchTime")),
        },
        "tags": tags,
    }


def head_node_records(ec2_client, region, filters=None):
    """Every head node in one region, as records sorted by cluster name."""
    records = []
    paginator = ec2_client.get_paginator("describe_instances")
    for page in paginator.paginate(Filters=head_node_filters(filters)):
        for reservation in page.get("Reservations") or []:
            for instance in reservation.get("Instances") or []:
                record = instance_record(instance, region)
                if record["clusterName"]:
                    records.append(record)
    return sorted(records, key=lambda r: (r["clusterName"], r["headNode"]["instanceId"] or ""))
