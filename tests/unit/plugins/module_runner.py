"""Runs a module's main() as Ansible runs it (module args in, JSON out) with run_command answered by a
fake, for the Slurm modules' tests."""

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


def run_module(module, args, runner, capsys, monkeypatch, check_mode=False):
    """The module's JSON result; its warnings as plain text under "warnings" (module.warn goes to the
    controller's display instead of the result when the test process counts as the controller)."""
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, cmd, **kw: runner(cmd, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning, **kw: warned.append(warning))
    args = dict(args, _ansible_check_mode=check_mode)
    # The controller's no_target_syslog, as a module receives it. With syslog on (the default),
    # Python 3.13's syslog refuses a NUL in any parameter, so AnsibleModule fails before the
    # module's own checks; these tests are about those checks
    # (test_nul_with_syslog_on_is_refused_before_anything_runs covers the default).
    args.setdefault("_ansible_no_log", True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = json.loads(capsys.readouterr().out)
    if warned:
        out["warnings"] = warned
    return out
