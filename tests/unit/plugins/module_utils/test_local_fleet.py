"""Failed dynamic nodes go back to the pool, as ParallelCluster's clustermgtd does; static and
healthy nodes are left alone."""

from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_fleet import Fleet

SINFO = "\n".join([
    "q-dy-cr-1|down*",      # crashed: stopped answering
    "q-dy-cr-2|down~",      # never came up (ResumeTimeout)
    "q-dy-cr-3|alloc",
    "q-dy-cr-4|idle~",
    "q-st-cr-1|down*",      # static: not ours to replace
    "q-dy-cr-5|drain",
]) + "\n"


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, args, environ_update=None):
        self.calls.append(args)
        if args[0] == "sinfo":
            return 0, SINFO, ""
        return 0, "", ""


def test_failed_dynamic_nodes_are_the_down_dynamic_ones():
    assert Fleet(Recorder(), {}).failed_dynamic_nodes() == ["q-dy-cr-1", "q-dy-cr-2"]


def test_replacing_powers_down_a_crashed_node_and_resumes_one_that_never_came_up():
    run = Recorder()
    assert Fleet(run, {}).replace_failed_dynamic_nodes() == ["q-dy-cr-1", "q-dy-cr-2"]
    updates = [c for c in run.calls if c[0] == "scontrol"]
    assert updates == [
        ["scontrol", "update", "nodename=q-dy-cr-1", "state=POWER_DOWN_FORCE", "reason=node failed; replaced"],
        ["scontrol", "update", "nodename=q-dy-cr-2", "state=RESUME"],
    ]
