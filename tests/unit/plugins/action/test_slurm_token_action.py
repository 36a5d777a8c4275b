"""The slurm_token action plugin hides the module's whole result from every callback, as no_log
would, while the token stays in the result for register. A controller-side test: ansible-test runs
module tests without ansible.plugins."""

from slurmrestd_fake import GOOD_TOKEN


def test_action_plugin_hides_the_result():
    from ansible_collections.hpc.parallelcluster.plugins.action.slurm_token import ActionModule

    class Task:
        args = {"username": "u"}
        async_val = 0
        check_mode = False
        diff = False

    action = ActionModule.__new__(ActionModule)
    action._task = Task()
    action._execute_module = lambda **kw: {"changed": True, "token": GOOD_TOKEN}
    import ansible.plugins.action as base

    original = base.ActionBase.run
    base.ActionBase.run = lambda self, tmp=None, task_vars=None: {}
    try:
        result = action.run(task_vars={})
    finally:
        base.ActionBase.run = original
    assert result["_ansible_no_log"] is True and result["token"] == GOOD_TOKEN
