# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local cluster's compute fleet, driven through Slurm the way ParallelCluster's daemons do.

Stopping the fleet (``pcluster update-compute-fleet --status STOP_REQUESTED``) makes every
partition INACTIVE and powers every compute node down at once; starting it makes them UP again.
During an update, nodes that are removed or changed are handled by QueueUpdateStrategy:
TERMINATE powers them down now (their jobs are requeued or end), DRAIN lets their jobs finish
first (Slurm's POWER_DOWN_ASAP). Powered-down nodes come back with the new configuration.
"""

from __future__ import annotations

import time

# sinfo's compact states of nodes that are not running a slurmd: powered down (~), powering
# down (%), or powering up (#, nothing started yet).
NOT_UP_SUFFIXES = ("~", "%", "#", "!")


class FleetError(Exception):
    pass


class Fleet:
    def __init__(self, run, env):
        """``run`` is AnsibleModule.run_command; ``env`` carries SLURM_CONF."""
        self.run = run
        self.env = env

    def _slurm(self, args):
        rc, out, err = self.run(args, environ_update=self.env)
        if rc != 0:
            raise FleetError("%s failed: %s" % (" ".join(args), (err or out).strip()))
        return out

    def node_states(self):
        """{node: compact sinfo state} of every node slurmctld knows."""
        out = self._slurm(["sinfo", "--noheader", "--Node", "--format=%N|%t"])
        states = {}
        for line in out.splitlines():
            if "|" in line:
                node, state = line.split("|", 1)
                states[node] = state.strip().rstrip("*")
        return states

    def up_nodes(self, names=None):
        states = self.node_states()
        return sorted(n for n, s in states.items() if not s.endswith(NOT_UP_SUFFIXES) and (names is None or n in names))

    def partitions(self):
        out = self._slurm(["sinfo", "--noheader", "--format=%R"])
        return sorted(set(line.strip() for line in out.splitlines() if line.strip()))

    def set_partitions(self, state, partitions=None):
        for partition in partitions if partitions is not None else self.partitions():
            self._slurm(["scontrol", "update", "partitionname=%s" % partition, "state=%s" % state])

    def power_down(self, nodes, asap=False, reason="cluster update"):
        """POWER_DOWN_FORCE (jobs requeued or ended now) or POWER_DOWN_ASAP (after their jobs)."""
        if nodes:
            self._slurm(["scontrol", "update", "nodename=%s" % ",".join(nodes),
                         "state=%s" % ("POWER_DOWN_ASAP" if asap else "POWER_DOWN_FORCE"), "reason=%s" % reason])
        return list(nodes)

    def wait_down(self, nodes, timeout=120, interval=0.5):
        """Wait until slurmctld has asked the power program to stop every node in ``nodes``."""
        deadline = time.monotonic() + timeout
        pending = set(nodes)
        while pending:
            pending = set(self.up_nodes(pending))
            if not pending:
                break
            if time.monotonic() > deadline:
                raise FleetError("nodes %s did not power down within %ss" % (",".join(sorted(pending)), timeout))
            time.sleep(interval)

    def stop(self):
        """Stop the compute fleet: partitions INACTIVE, every running node powered down now."""
        self.set_partitions("INACTIVE")
        nodes = self.power_down(self.up_nodes(), reason="compute fleet stopped")
        self.wait_down(nodes)
        return nodes

    def start(self, partitions):
        self.set_partitions("UP", partitions)

    def failed_dynamic_nodes(self):
        """Dynamic nodes Slurm has marked DOWN, a crashed instance for example (``down``: it stopped
        answering; ``down~``: it never came up). ParallelCluster's clustermgtd replaces them."""
        return sorted(n for n, s in self.node_states().items() if "-dy-" in n and s.rstrip("~") == "down")

    def replace_failed_dynamic_nodes(self):
        """Return DOWN dynamic nodes to the pool as clustermgtd does: powered down (what is left of
        a crashed node is stopped), then idle and powered down, ready to be resumed for a job."""
        failed = self.failed_dynamic_nodes()
        states = self.node_states()
        running = [n for n in failed if not states[n].endswith("~")]
        self.power_down(running, reason="node failed; replaced")
        powered_off = [n for n in failed if states[n].endswith("~")]
        if powered_off:
            self._slurm(["scontrol", "update", "nodename=%s" % ",".join(powered_off), "state=RESUME"])
        return failed

    def apply_strategy(self, strategy, nodes):
        """Running nodes an update removes or changes, under QueueUpdateStrategy ``strategy``."""
        running = self.up_nodes(set(nodes))
        if not running:
            return []
        if strategy == "DRAIN":
            return self.power_down(running, asap=True, reason="cluster update (DRAIN)")
        self.power_down(running, reason="cluster update (%s)" % strategy)
        self.wait_down(running)
        return running
