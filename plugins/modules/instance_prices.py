#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: instance_prices
short_description: EC2 prices per hour from the AWS Price List API and the spot price history
version_added: 0.1.0
description:
  - Returns the price per hour of EC2 instance types, On-Demand from the AWS Price List API
    (C(GetProducts) of C(AmazonEC2)) and Spot as the mean of EC2's spot price history over the last
    O(spot_days) days, in the shape M(hpc.parallelcluster.slurm_usage)'s O(hpc.parallelcluster.slurm_usage#module:prices)
    takes, with where each figure came from.
  - On-Demand prices are those of a ParallelCluster compute node, Linux with shared tenancy and no
    pre-installed software, in O(region).
  - The local provider's AWS API emulator answers both APIs from a table shipped with the collection
    (C(roles/local_cloud/files/price_table.json)), so the same task prices a local and a real cluster;
    RV(price_source) names the endpoint the figures came from.
  - Only reads.
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
options:
  instance_types:
    description:
      - Instance types to price, On-Demand and Spot.
      - Added to the types of O(cluster_config).
    type: list
    elements: str
    default: []
  cluster_config:
    description:
      - A ParallelCluster configuration (the inventory plugin's C(pcluster_cluster_configuration) host
        variable); each compute resource's instance type is priced with its queue's C(CapacityType)
        (C(ONDEMAND) or C(SPOT)).
    type: dict
    default: {}
  spot_days:
    description: How many days of spot price history the Spot price is the mean of.
    type: int
    default: 7
  pricing_region:
    description:
      - The region of the Price List API endpoint, which only some regions serve (V(us-east-1),
        V(eu-central-1), V(ap-south-1)). The prices are those of O(region) whatever the endpoint.
    type: str
    default: us-east-1
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
  - hpc.parallelcluster.attributes
  - hpc.parallelcluster.attributes.aws_group
attributes:
  check_mode:
    support: full
    details: Only reads; runs the same in check mode.
  diff_mode:
    support: N/A
    details: Reports no changes.
notes:
  - Needs C(pricing:GetProducts) and C(ec2:DescribeSpotPriceHistory).
  - Prices are in USD, the currency the Price List API publishes them in.
  - Capacity Block prices are not in either API; a Capacity Block queue's type is listed in RV(missing).
seealso:
  - module: hpc.parallelcluster.slurm_usage
"""

EXAMPLES = r"""
- name: Price the cluster's instance types
  hpc.parallelcluster.instance_prices:
    cluster_config: "{{ pcluster_cluster_configuration }}"
    region: us-east-1
  register: priced

- name: Last week's cost per research group, at those prices
  hpc.parallelcluster.slurm_usage:
    start: now-7days
    cluster_config: "{{ pcluster_cluster_configuration }}"
    prices: "{{ priced.prices }}"
    price_source: "{{ priced.price_source }}"
  become: true
"""

RETURN = r"""
prices:
  description: Price per hour by instance type and purchase option (V(on_demand), V(spot)).
  returned: always
  type: dict
  sample: {"c5n.large": {"on_demand": 0.108, "spot": 0.0436}}
sources:
  description: Where the figures of each purchase option came from.
  returned: always
  type: dict
  sample:
    on_demand: AWS Price List API, us-east-1 prices published 2026-11-01T00:00:00Z
    spot: EC2 spot price history of us-east-1, mean of 3 points over 7 days
price_source:
  description: The sources in one line, for M(hpc.parallelcluster.slurm_usage)'s O(hpc.parallelcluster.slurm_usage#module:price_source).
  returned: always
  type: str
missing:
  description: Instance types with no price for a purchase option they are used with, as C(type (option)).
  returned: always
  type: list
  elements: str
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_prices import read_on_demand, read_spot
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_usage import node_types

BOTH = ("on_demand", "spot")


def wanted(module):
    """{instance type: set of purchase options} to price."""
    found = {}
    for _pattern, instance_type, option in node_types(module.params["cluster_config"]):
        if instance_type != "unknown":
            found.setdefault(instance_type, set()).add(option)
    for instance_type in module.params["instance_types"]:
        found.setdefault(instance_type, set()).update(BOTH)
    return found


def where(module):
    """' at <endpoint>' when the clients talk to an endpoint of their own (the emulator), else ''."""
    endpoint = module.params.get("endpoint_url")
    return " at %s" % endpoint if endpoint else ""


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            instance_types=dict(type="list", elements="str", default=[]),
            cluster_config=dict(type="dict", default={}),
            spot_days=dict(type="int", default=7),
            pricing_region=dict(type="str", default="us-east-1"),
        ),
        supports_check_mode=True,
    )
    if module.params["spot_days"] < 1:
        module.fail_json(msg="spot_days: %d is not a number of days; give 1 or more" % module.params["spot_days"])
    region = module.region
    if not region:
        module.fail_json(msg="region: no region to price; set region (or AWS_REGION)")
    types = wanted(module)
    on_demand_types = sorted(t for t, options in types.items() if "on_demand" in options)
    spot_types = sorted(t for t, options in types.items() if "spot" in options)
    retry = AWSRetry.jittered_backoff()
    try:
        pricing = module.client("pricing", retry_decorator=retry, region=module.params["pricing_region"])
        on_demand, dates, missing_on_demand = read_on_demand(pricing, on_demand_types, region)
        spot, missing_spot = ({}, []) if not spot_types else read_spot(
            module.client("ec2", retry_decorator=retry), spot_types, module.params["spot_days"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Could not read EC2 prices for %s" % region)
    prices = {}
    for instance_type, price in on_demand.items():
        prices.setdefault(instance_type, {})["on_demand"] = price
    for instance_type, (price, _points) in spot.items():
        prices.setdefault(instance_type, {})["spot"] = price
    sources = {}
    if on_demand:
        sources["on_demand"] = "AWS Price List API%s, %s prices published %s" % (
            where(module), region, ", ".join(sorted(set(str(d) for d in dates.values()))))
    if spot:
        sources["spot"] = "EC2 spot price history%s of %s, mean of %d points over %d days" % (
            where(module), region, sum(points for _price, points in spot.values()), module.params["spot_days"])
    missing = ["%s (on_demand)" % t for t in missing_on_demand] + ["%s (spot)" % t for t in missing_spot]
    missing += ["%s (capacity_block)" % t for t, options in sorted(types.items()) if "capacity_block" in options]
    if missing:
        module.warn("no price for %s in %s" % (", ".join(missing), region))
    module.exit_json(changed=False, prices=prices, sources=sources, missing=missing,
                     price_source="; ".join("%s: %s" % (k, v) for k, v in sorted(sources.items())) or "no prices found")


if __name__ == "__main__":
    main()
