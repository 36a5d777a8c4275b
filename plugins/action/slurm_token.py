# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the slurm_token module and hides its result from every callback (as ``no_log: true``
would), so the token can be registered and passed on without ever being printed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        result.update(self._execute_module(module_name="hpc.parallelcluster.slurm_token",
                                           module_args=self._task.args, task_vars=task_vars))
        # Output callbacks print '"censored": "the output has been hidden ..."' for this result; the
        # registered variable still holds the token for no_log options such as slurm_job's rest_token.
        result["_ansible_no_log"] = True
        return result
