#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: slurm_usage
short_description: Jobs, core-hours, node-hours and cost per account, user, partition and instance type
version_added: 0.1.0
description:
  - Reads Slurm's accounting (C(sacct --parsable2) of every user's jobs in a period) and returns the
    jobs, core-hours, node-hours and cost per account, per user, per partition and per instance type,
    and in total. Runs on the head node; the same on both providers.
  - Node-hours are each job's elapsed time times its nodes; core-hours its elapsed time times its
    allocated CPUs. A job that ran partly inside the period counts whole, as sacct reports it.
  - The instance type and purchase option (On-Demand or Spot) behind each node come from its
    ParallelCluster name and O(cluster_config); the cost from O(prices). A figure without a price
    is null, and a warning names the instance type.
  - Per week (RV(by_week)), a job counts in the week it started in, weeks starting on Monday.
  - Needs Slurm accounting (C(Scheduling.SlurmSettings.Database) in the cluster config).
  - M(hpc.parallelcluster.instance_prices) reads O(prices) from the AWS Price List API and the spot
    price history (the local emulator serves both from a table); C(playbooks/usage_report.yml) writes
    the report as CSV and a chart.
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - hpc.parallelcluster.attributes
  - hpc.parallelcluster.attributes.slurm_group
  - hpc.parallelcluster.slurm
attributes:
  check_mode:
    support: full
    details: Only reads; runs the same in check mode.
  diff_mode:
    support: N/A
    details: Reports no changes.
options:
  start:
    description: Start of the period, in any form sacct's C(--starttime) takes (V(2026-11-01), V(now-7days)).
    type: str
    default: now-7days
  end:
    description: End of the period, in any form sacct's C(--endtime) takes.
    type: str
    default: now
  cluster_config:
    description:
      - The cluster's ParallelCluster configuration, for the instance type and purchase option of each
        compute resource (the inventory plugin's C(pcluster_cluster_configuration) host variable).
      - Without it every node is of instance type V(unknown).
    type: dict
    default: {}
  prices:
    description:
      - "Price per hour of each instance type, by purchase option (V(on_demand), V(spot), V(capacity_block)),
        for example V({c5n.large: {on_demand: 0.108, spot: 0.04}}), in the currency the report is wanted in."
    type: dict
    default: {}
  price_source:
    description: Where O(prices) came from, returned as RV(price_source) with the figures.
    type: str
    default: supplied table
notes:
  - Jobs are read with C(--allusers), so the module needs root or a Slurm operator to see every
    user's jobs; run it with C(become).
seealso:
  - module: hpc.parallelcluster.slurm_accounts
  - module: hpc.parallelcluster.instance_prices
"""

EXAMPLES = r"""
- name: Last week's usage and cost per research group
  hpc.parallelcluster.slurm_usage:
    start: now-7days
    cluster_config: "{{ pcluster_cluster_configuration }}"
    prices:
      c5n.large: {on_demand: 0.108, spot: 0.0436}
      c5n.18xlarge: {on_demand: 3.888}
  become: true
  register: usage

- name: Show the cost per account
  ansible.builtin.debug:
    msg: "{{ usage.by_account | items2dict(key_name='account', value_name='cost') }}"
"""

RETURN = r"""
period:
  description: The period read, as given.
  returned: always
  type: dict
  sample: {"start": "now-7days", "end": "now"}
price_source:
  description: Where the prices came from (O(price_source)).
  returned: always
  type: str
by_account:
  description: One row per account, sorted by name, with C(account), C(jobs), C(core_hours), C(node_hours) and C(cost) (null when a node had no price).
  returned: always
  type: list
  elements: dict
by_user:
  description: The same per user (C(user)).
  returned: always
  type: list
  elements: dict
by_partition:
  description: The same per partition, that is ParallelCluster queue (C(partition)).
  returned: always
  type: list
  elements: dict
by_instance_type:
  description: The same per instance type (C(instance_type)); a job on several types counts once under each, with its nodes' share.
  returned: always
  type: list
  elements: dict
by_week:
  description:
    - One item per week that had jobs, oldest first, with C(week) (its Monday, V(2026-11-30)) and
      C(by_account), the rows of RV(by_account) for the jobs that started in that week.
    - A job that never started (cancelled while pending) is in no week.
  returned: always
  type: list
  elements: dict
  sample: [{"week": "2026-11-30", "by_account": [{"account": "physics", "jobs": 2, "core_hours": 4.0, "node_hours": 2.0, "cost": 0.216}]}]
total:
  description: C(jobs), C(core_hours), C(node_hours) and C(cost) of every job.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import (
    ACCOUNTING_REQUIRED,
    SlurmCLI,
    SlurmError,
)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_usage import (
    UsageReport,
    expand_nodes,
    node_types,
    read_jobs,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            start=dict(type="str", default="now-7days"),
            end=dict(type="str", default="now"),
            cluster_config=dict(type="dict", default={}),
            prices=dict(type="dict", default={}),
            price_source=dict(type="str", default="supplied table"),
            slurm_conf=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    cli = SlurmCLI(module.run_command, slurm_conf=p["slurm_conf"])
    problems = ["prices.%s: %r is not a mapping of purchase option to price per hour" % (k, v)
                for k, v in p["prices"].items() if not isinstance(v, dict)]
    if problems:
        module.fail_json(msg="; ".join(problems))
    report = UsageReport(node_types(p["cluster_config"]), p["prices"])
    try:
        if not cli.has_accounting():
            module.fail_json(msg=ACCOUNTING_REQUIRED % cli.config().get("AccountingStorageType"))
        cache = {}
        for job in read_jobs(cli, p["start"], p["end"]):
            report.add_job(job, expand_nodes(cli, job["NodeList"], cache))
    except SlurmError as exc:
        module.fail_json(msg=str(exc), rc=exc.rc, stdout=exc.stdout, stderr=exc.stderr)
    if report.missing_prices:
        module.warn("no price for %s: their cost is null; add them to prices" % ", ".join(sorted(report.missing_prices)))
    module.exit_json(changed=False, period={"start": p["start"], "end": p["end"]}, price_source=p["price_source"],
                     **report.result())


if __name__ == "__main__":
    main()
