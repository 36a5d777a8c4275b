# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Usage per account, user, partition and instance type from Slurm's accounting, and its cost.

Jobs come from sacct's parsable output (elapsed seconds, allocated CPUs, nodes). The instance type
behind each node comes from its ParallelCluster name (``<queue>-st|dy-<compute resource>-<n>``) and
the cluster config; its price per hour from a table given per instance type and purchase option.
Per week, a job counts in the ISO week (from Monday) it started in.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import SEP, parse_delimited

USAGE_FIELDS = ("JobIDRaw", "Account", "User", "Partition", "AllocCPUS", "NNodes", "ElapsedRaw", "NodeList", "State", "Start")
GROUPS = ("account", "user", "partition", "instance_type")
# ParallelCluster's queue CapacityType, and the price table's key for it.
PURCHASE_OPTIONS = {"ONDEMAND": "on_demand", "SPOT": "spot", "CAPACITY_BLOCK": "capacity_block"}


def node_types(cluster_config):
    """[(compiled node-name pattern, instance type, purchase option)] for each compute resource."""
    out = []
    for queue in ((cluster_config or {}).get("Scheduling") or {}).get("SlurmQueues") or []:
        option = PURCHASE_OPTIONS.get(queue.get("CapacityType") or "ONDEMAND", "on_demand")
        for resource in queue.get("ComputeResources") or []:
            instance = resource.get("InstanceType") or ((resource.get("Instances") or [{}])[0].get("InstanceType"))
            pattern = re.compile(r"^%s-(st|dy)-%s-\d+$" % (re.escape(queue["Name"]), re.escape(resource["Name"])))
            out.append((pattern, instance or "unknown", option))
    return out


def node_type(node, types):
    """(instance type, purchase option) of a node by its name; ("unknown", "on_demand") for another name."""
    for pattern, instance, option in types:
        if pattern.match(node):
            return instance, option
    return "unknown", "on_demand"


def week_of(start):
    """The Monday (YYYY-MM-DD) of the week a job started in; None for a job that never started."""
    try:
        day = datetime.date.fromisoformat((start or "")[:10])
    except ValueError:
        return None
    return (day - datetime.timedelta(days=day.weekday())).isoformat()


def _plus(total, amount):
    """A cost sum that stays null once any part had no price."""
    return None if total is None or amount is None else total + amount


class UsageReport:
    """Sums of jobs, core-hours, node-hours and cost per group; ``missing_prices`` names what had none."""

    def __init__(self, types, prices):
        self.types = types
        self.prices = prices or {}
        self.groups = {group: {} for group in GROUPS}
        self.total = self._row()
        self.weeks = {}
        self.missing_prices = set()

    @staticmethod
    def _row():
        return {"jobs": 0, "core_hours": 0.0, "node_hours": 0.0, "cost": 0.0}

    def _price(self, instance, option):
        price = (self.prices.get(instance) or {}).get(option)
        if price is None:
            self.missing_prices.add("%s (%s)" % (instance, option))
        return price

    def _add(self, group, key, jobs, core_hours, node_hours, cost, rows=None):
        row = (self.groups[group] if rows is None else rows).setdefault(key, self._row())
        row["jobs"] += jobs
        row["core_hours"] += core_hours
        row["node_hours"] += node_hours
        row["cost"] = _plus(row["cost"], cost)

    def add_job(self, job, nodes):
        """One allocation row of sacct with its node names (empty for a job that never ran)."""
        hours = int(job["ElapsedRaw"] or 0) / 3600.0
        cpus = int(job["AllocCPUS"] or 0)
        per_type = {}
        for node in nodes:
            instance, option = node_type(node, self.types)
            price = self._price(instance, option)
            seen = per_type.setdefault(instance, [0, 0.0])
            seen[0] += 1
            seen[1] = _plus(seen[1], None if price is None else price * hours)
        cost = 0.0
        for _count, type_cost in per_type.values():
            cost = _plus(cost, type_cost)
        node_hours = len(nodes) * hours
        for group, key in (("account", job["Account"]), ("user", job["User"]), ("partition", job["Partition"])):
            self._add(group, key or "(none)", 1, cpus * hours, node_hours, cost)
        week = week_of(job.get("Start"))
        if week:
            self._add("account", job["Account"] or "(none)", 1, cpus * hours, node_hours, cost,
                      rows=self.weeks.setdefault(week, {}))
        for instance, (count, type_cost) in per_type.items():
            self._add("instance_type", instance, 1, cpus * hours * count / len(nodes), count * hours, type_cost)
        self.total["jobs"] += 1
        self.total["core_hours"] += cpus * hours
        self.total["node_hours"] += node_hours
        self.total["cost"] = _plus(self.total["cost"], cost)

    def result(self):
        def rounded(row):
            return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
        out = {"by_" + group: [dict(rounded(row), **{group: key}) for key, row in sorted(rows.items())]
               for group, rows in self.groups.items()}
        out["by_week"] = [{"week": week, "by_account": [dict(rounded(row), account=key) for key, row in sorted(rows.items())]}
                          for week, rows in sorted(self.weeks.items())]
        out["total"] = rounded(self.total)
        return out


def read_jobs(cli, start, end):
    """Allocation rows of every user's jobs that ran in [start, end] (sacct's window)."""
    args = ["sacct", "--noheader", "--parsable2", "--delimiter=" + SEP, "--allocations", "--allusers",
            "--starttime=" + start, "--endtime=" + end, "--format=" + ",".join(USAGE_FIELDS)]
    _rc, out, _err = cli.run(args, env={"LC_ALL": "C"})
    return parse_delimited(out, USAGE_FIELDS)


def expand_nodes(cli, nodelist, cache):
    """Node names of a Slurm host list (``scontrol show hostnames``), once per distinct list."""
    if not nodelist or nodelist in ("None assigned", "(null)"):
        return []
    if nodelist not in cache:
        _rc, out, _err = cli.run(["scontrol", "show", "hostnames", nodelist])
        cache[nodelist] = [line.strip() for line in out.split("\n") if line.strip()]
    return cache[nodelist]
