#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: slurm_settings
short_description: Slurm settings as data in a managed slurm.conf include file, applied and verified
version_added: 0.1.0
description:
  - Writes O(settings) as C(Key=Value) lines to a file of its own (O(path)) that slurm.conf
    includes last, so the settings win over earlier lines. Nothing else in slurm.conf is edited.
  - Applies a change the way Slurm needs it, per slurm.conf(5) of Slurm 22.05 - C(scontrol reconfigure)
    for most settings; slurmctld restarted for those that need it (for example C(SelectTypeParameters));
    slurmctld restarted and powered-up compute nodes powered down as soon as their jobs end for
    those that need every slurmd restarted (for example C(SelectType)). Powered-down nodes start
    with the new configuration, as ParallelCluster replaces compute instances.
  - Reads C(scontrol show config) afterwards and fails when slurmctld reports other values.
  - Slurm discards its saved job state when C(SelectType) changes (job ids start again); change it
    on an empty cluster. The module warns when it does.
  - Idempotent. When the file is already right but slurmctld still reports other values (an
    earlier run was interrupted before applying), the change is applied again.
  - Runs on the head node.
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
options:
  settings:
    description:
      - slurm.conf parameters and their values. Lists are joined with commas, booleans become
        V(YES)/V(NO).
      - Keys are slurm.conf parameter names (letters and digits). A value must read back as itself on a
        slurm.conf line, so it holds no control character, C(#) or C(\), is not empty, and has no blank
        unless written whole in double quotes; a blank followed by C(Name=) (a second setting) is
        refused even then. Every problem is reported, naming C(settings.<key>), before anything changes.
    type: dict
    default: {}
  state:
    description:
      - V(present) writes the file and includes it; V(absent) removes both and applies the removal.
    type: str
    choices: [present, absent]
    default: present
  path:
    description: The managed include file.
    type: path
    default: /opt/slurm/etc/slurm_tuning.conf
  slurm_conf:
    description: The slurm.conf that includes O(path).
    type: path
    default: /opt/slurm/etc/slurm.conf
  denied:
    description:
      - Parameter names (any case) that must not be set, checked before anything changes. The
        lookup P(hpc.parallelcluster.pcluster_slurm_deny_list#lookup) gives ParallelCluster's own list.
    type: list
    elements: str
    default: []
  allow_restart:
    description:
      - Whether daemons may be restarted when a setting needs it. With V(false), such a change
        fails before anything is written, naming the settings.
    type: bool
    default: true
  provider:
    description:
      - How slurmctld is restarted. V(local) - the local provider's daemons; V(aws) - C(systemctl restart slurmctld)
        as on a ParallelCluster head node.
    type: str
    choices: [local, aws]
    default: local
  wait_timeout:
    description: Seconds to wait for slurmctld to answer after a restart.
    type: int
    default: 60
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - hpc.parallelcluster.attributes
  - hpc.parallelcluster.attributes.slurm_group
attributes:
  check_mode:
    support: full
    details: Reports the file change and the action (reconfigure or restart) it would take.
  diff_mode:
    support: full
    details: The include file before and after.
notes:
  - slurm.conf(5) lists which parameters need a restart; slurm_settings follows it for Slurm 22.05.
seealso:
  - name: slurm.conf(5)
    description: Slurm's configuration parameters.
    link: https://slurm.schedmd.com/slurm.conf.html
"""

EXAMPLES = r"""
- name: The recipe's scheduler tuning (step 6)
  hpc.parallelcluster.slurm_settings:
    settings:
      SelectType: select/cons_tres
      SelectTypeParameters: CR_Core_Memory
      PreemptType: preempt/partition_prio
      PreemptMode: REQUEUE
      DefMemPerCPU: 1000
    denied: "{{ query('hpc.parallelcluster.pcluster_slurm_deny_list') }}"
"""

RETURN = r"""
method:
  description: How the change was (or in check mode would be) applied - C(none), C(reconfigure), C(restart_slurmctld) or C(restart).
  returned: always
  type: str
  sample: restart_slurmctld
changed_keys:
  description: Settings (lower case, as Slurm compares them) added, removed or changed, or reported otherwise by slurmctld.
  returned: always
  type: list
  elements: str
  sample: [selecttypeparameters]
effective:
  description: What C(scontrol show config) reports for each setting after the run.
  returned: when slurmctld answers and not in check mode
  type: dict
  sample: {SelectTypeParameters: CR_CORE_MEMORY, DefMemPerCPU: "1000"}
unverifiable:
  description: Settings that C(scontrol show config) does not list, so could not be checked.
  returned: always
  type: list
  elements: str
  sample: []
powered_down:
  description: Compute nodes asked to power down (after their jobs) to restart with the new settings.
  returned: when O(provider) restarts slurmd
  type: list
  elements: str
  sample: [compute-dy-compute-nodes-1]
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_conf_include as sci


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write(module, path, text, mode):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".slurm_settings.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)


class Slurmctld:
    """The head node's controller as seen through its commands."""

    def __init__(self, module):
        self.module = module
        self.env = {"SLURM_CONF": module.params["slurm_conf"]}

    def run(self, args, check=True):
        rc, out, err = self.module.run_command(args, environ_update=self.env)
        if check and rc != 0:
            self.module.fail_json(msg="%s failed: %s" % (" ".join(args), (err or out).strip()), rc=rc)
        return rc, out

    def answers(self):
        return self.run(["scontrol", "ping"], check=False)[0] == 0

    def show_config(self):
        return sci.parse_show_config(self.run(["scontrol", "show", "config"])[1])

    def wait(self):
        deadline = time.monotonic() + self.module.params["wait_timeout"]
        while not self.answers():
            if time.monotonic() > deadline:
                self.module.fail_json(msg="slurmctld did not answer scontrol ping within %ss after the restart"
                                      % self.module.params["wait_timeout"])
            time.sleep(0.5)

    def restart(self):
        if self.module.params["provider"] == "aws":
            self.run(["systemctl", "restart", "slurmctld"])
        else:
            from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_daemons import Daemons
            from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths

            paths = LocalPaths(slurm_etc=os.path.dirname(self.module.params["slurm_conf"]))
            daemons = Daemons(paths, self.module.run_command, self.env)
            daemons.stop_slurmctld()
            daemons.ensure_slurmctld()
        self.wait()

    def power_down_running_nodes(self):
        """Nodes that are up get POWER_DOWN_ASAP: they finish their jobs, then restart with the new config."""
        _rc, out = self.run(["sinfo", "--noheader", "--Node", "--format=%N|%t"])
        nodes = sorted({line.split("|")[0] for line in out.splitlines()
                        if "|" in line and not line.split("|")[1].rstrip("*").endswith(("~", "#", "%", "!"))})
        if nodes:
            self.run(["scontrol", "update", "nodename=%s" % ",".join(nodes), "state=POWER_DOWN_ASAP",
                      "reason=slurm_settings: restart with new settings"])
        return nodes


def main():
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict", default={}),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            path=dict(type="path", default="/opt/slurm/etc/slurm_tuning.conf"),
            slurm_conf=dict(type="path", default="/opt/slurm/etc/slurm.conf"),
            denied=dict(type="list", elements="str", default=[]),
            allow_restart=dict(type="bool", default=True),
            provider=dict(type="str", default="local", choices=["local", "aws"]),
            wait_timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    params = module.params
    present = params["state"] == "present"
    settings = params["settings"] if present else {}
    try:
        sci.check_settings(settings, params["denied"])
    except sci.SettingsError as exc:
        errors = [{"field": "settings.%s" % sci.printable(key), "message": message} for key, message in exc.errors]
        module.fail_json(msg="invalid Slurm settings, nothing was changed:\n%s"
                         % "\n".join("%(field)s: %(message)s" % e for e in errors), errors=errors)
    conf_text = _read(params["slurm_conf"])
    if conf_text is None:
        module.fail_json(msg="slurm_conf: %s does not exist; is this the cluster's head node?" % params["slurm_conf"])

    before_text = _read(params["path"])
    after_text = sci.render_include(settings) if present else None
    new_conf = (sci.ensure_include_line(conf_text, params["path"]) if present
                else sci.remove_include_line(conf_text, params["path"]))
    file_keys = sci.changed_keys(sci.parse_include(before_text), settings)

    ctld = Slurmctld(module)
    up = ctld.answers()
    keys = file_keys
    if up:
        # What matters is what slurmctld runs with: a setting it already has needs no restart,
        # and one it lacks is applied even when the file is already right (an interrupted run).
        mismatches, unverifiable = sci.verify(settings, ctld.show_config())
        asked = {k.lower() for k in settings}
        unknown = {k.lower() for k in unverifiable}
        keys = sorted({m["key"].lower() for m in mismatches}
                      | {k for k in file_keys if k not in asked or k in unknown})
    action = sci.needed_action(keys)
    if action.startswith("restart") and not params["allow_restart"]:
        module.fail_json(msg="settings %s need slurmctld%s restarted (slurm.conf(5)); set allow_restart: true "
                             "or change them during a maintenance window" % (
                                 ", ".join(keys), " and every slurmd" if action == "restart" else ""),
                         changed_keys=keys, method=action)

    changed = before_text != after_text or new_conf is not None or action != "none"
    result = dict(changed=changed, method=action, changed_keys=keys, unverifiable=[],
                  diff={"before": before_text or "", "after": after_text or "",
                        "before_header": params["path"], "after_header": params["path"]})
    if module.check_mode or not changed:
        if up and present:
            result["unverifiable"] = sci.verify(settings, ctld.show_config())[1]
        module.exit_json(**result)

    if present:
        _write(module, params["path"], after_text, 0o644)
    if new_conf is not None:
        _write(module, params["slurm_conf"], new_conf, os.stat(params["slurm_conf"]).st_mode & 0o7777)
    if not present and os.path.exists(params["path"]):
        os.unlink(params["path"])

    if up:
        if action == "reconfigure":
            ctld.run(["scontrol", "reconfigure"])
        elif action.startswith("restart"):
            if "selecttype" in keys:
                module.warn("SelectType changed: slurmctld discards its saved job state with it (Slurm's rule)")
            ctld.restart()
            if action == "restart":
                result["powered_down"] = ctld.power_down_running_nodes()
        shown = ctld.show_config()
        mismatches, result["unverifiable"] = sci.verify(settings, shown)
        if mismatches:
            module.fail_json(msg="after %s, slurmctld reports other values: %s" % (action, ", ".join(
                "%s=%s (expected %s)" % (m["key"], m["actual"], m["expected"]) for m in mismatches)),
                mismatches=mismatches, **result)
        result["effective"] = {key: shown.get(key.lower()) for key in settings}
    else:
        module.warn("slurmctld does not answer: the settings are written and apply when it starts")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
