"""LocalPaths.under keeps every path of a cluster below one folder, so that a test (or a second
layout) never reaches this machine's own /opt, /etc, /var or /run."""

import dataclasses
import os

from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths


def test_every_path_is_below_the_root_with_the_head_node_layout(tmp_path):
    paths = LocalPaths.under(tmp_path)
    default = LocalPaths()
    for field in dataclasses.fields(LocalPaths):
        value = getattr(paths, field.name)
        assert value == os.path.join(str(tmp_path), getattr(default, field.name).lstrip("/")), field.name
    for derived in (paths.slurm_conf, paths.power_plan, paths.clusters, paths.logfile("slurmctld"), paths.pid("x")):
        assert derived.startswith(str(tmp_path) + os.sep)
