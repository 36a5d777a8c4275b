#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: slurm_accounts
short_description: Slurm accounts, users and QOS kept as declared
version_added: 0.1.0
description:
  - Keeps the accounts, users, their associations and the QOS of a Slurm cluster's accounting
    (slurmdbd) as declared, with C(sacctmgr) on the head node. The same on both providers.
  - Reads what Slurm holds with C(sacctmgr --parsable2), compares it with the declaration and runs
    only the C(sacctmgr) commands that close the difference, in an order Slurm accepts (QOS, then
    accounts parents first, then users, then deletions). A second run changes nothing.
  - Only what a declaration sets is managed; an option left out keeps the value Slurm has. A declared
    user's accounts are exactly the listed ones.
  - Every problem of the declaration is reported, naming its field (for example
    C(accounts[1].parent)), before anything changes.
  - Needs Slurm accounting. A ParallelCluster cluster has it when its config sets
    C(Scheduling.SlurmSettings.Database) (the C(accounting_database) role makes one); on a cluster
    without it the module fails and says so.
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
    details: Reads Slurm's accounting and returns the commands it would run, without running them.
  diff_mode:
    support: full
    details: The QOS, accounts and users before and after, as sacctmgr prints them.
options:
  qos:
    description: QOS to create or keep. A QOS named C(normal) (Slurm's own) may be declared to set its options.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: QOS name (lower case).
        type: str
        required: true
      description:
        description: Description.
        type: str
      priority:
        description: Priority added to the jobs of the QOS (C(Priority)).
        type: int
      max_wall:
        description: Longest run time of a job, in minutes or as C([D-]HH:MM[:SS]) (C(MaxWall)).
        type: raw
      max_tres_per_user:
        description: Trackable resources one user may hold at once, for example V(cpu=64,node=2) (C(MaxTRESPerUser)).
        type: str
      max_jobs_per_user:
        description: Running jobs one user may have (C(MaxJobsPerUser)).
        type: int
  accounts:
    description: Accounts (for example research groups) to create or keep, with their association on the cluster.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Account name (lower case).
        type: str
        required: true
      description:
        description: Description (Slurm's default is the name).
        type: str
      organization:
        description: Organization (Slurm's default is the name).
        type: str
      parent:
        description: Parent account, declared here or held by Slurm.
        type: str
        default: root
      fairshare:
        description: Fair-share shares of the account (a whole number, or V(parent)).
        type: raw
      qos:
        description: QOS the account's jobs may use (Slurm's default is the parent's).
        type: list
        elements: str
      default_qos:
        description: QOS of a job that names none; one of O(accounts[].qos).
        type: str
  users:
    description: Users and the accounts they may charge. The users need not exist on the head node yet.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name (lower case).
        type: str
        required: true
      accounts:
        description: Every account of the user; associations with other accounts are removed.
        type: list
        elements: str
        required: true
      default_account:
        description: Account of a job that names none. Defaults to the first of O(users[].accounts).
        type: str
  purge:
    description:
      - Also delete the QOS, accounts and users that are not declared (never Slurm's own QOS
        C(normal), account C(root) or user C(root)). Deleting a user removes it from every cluster of
        the accounting database.
    type: bool
    default: false
  cluster:
    description: Cluster name in the accounting database. Defaults to slurmctld's C(ClusterName).
    type: str
notes:
  - Slurm stores account, user and QOS names in lower case, so names in another case are refused.
    It stores descriptions and organizations in lower case too; they are compared regardless of case.
  - Descriptions and organizations may not hold C(|), the separator of sacctmgr's parsable output.
  - Accounting data are kept when an account or user is deleted; Slurm refuses to delete one with
    running jobs, and the module then fails naming the command (a re-run converges once they end).
seealso:
  - module: hpc.parallelcluster.slurm_job
  - name: sacctmgr
    description: Slurm's accounting manager.
    link: https://slurm.schedmd.com/sacctmgr.html
"""

EXAMPLES = r"""
- name: Two research groups with their users and a QOS for long jobs
  hpc.parallelcluster.slurm_accounts:
    qos:
      - name: long
        description: Jobs of up to three days
        max_wall: 3-00:00:00
        priority: 10
    accounts:
      - name: physics
        fairshare: 60
        qos: [normal, long]
        default_qos: normal
      - name: chemistry
        fairshare: 40
    users:
      - name: alice
        accounts: [physics]
      - name: bob
        accounts: [chemistry, physics]
        default_account: chemistry
  become: true

- name: Remove what is not declared any more
  hpc.parallelcluster.slurm_accounts:
    accounts: "{{ research_groups }}"
    users: "{{ research_users }}"
    purge: true
"""

RETURN = r"""
commands:
  description: The sacctmgr commands run (or, in check mode, that would run), each as its arguments after C(sacctmgr --immediate).
  returned: always
  type: list
  elements: list
  sample: [["add", "account", "physics", "Cluster=hpc-cluster", "Parent=root", "Fairshare=60"]]
cluster:
  description: The cluster name the associations were kept for.
  returned: always
  type: str
qos:
  description: The QOS after the run (in check mode, as they would be), by name.
  returned: always
  type: dict
accounts:
  description: The accounts after the run (description, organization, parent, fairshare, qos, default_qos), by name.
  returned: always
  type: dict
users:
  description: The users after the run (accounts, default_account), by name.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hpc.parallelcluster.plugins.module_utils.sacctmgr import Sacctmgr
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_accounts import (
    DeclarationError,
    check_declaration,
    plan,
)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import (
    ACCOUNTING_REQUIRED,
    SlurmCLI,
    SlurmError,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            qos=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                description=dict(type="str"),
                priority=dict(type="int"),
                max_wall=dict(type="raw"),
                max_tres_per_user=dict(type="str"),
                max_jobs_per_user=dict(type="int"),
            )),
            accounts=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                description=dict(type="str"),
                organization=dict(type="str"),
                parent=dict(type="str", default="root"),
                fairshare=dict(type="raw"),
                qos=dict(type="list", elements="str"),
                default_qos=dict(type="str"),
            )),
            users=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                accounts=dict(type="list", elements="str", required=True),
                default_account=dict(type="str"),
            )),
            purge=dict(type="bool", default=False),
            cluster=dict(type="str"),
            slurm_conf=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    cli = SlurmCLI(module.run_command, slurm_conf=p["slurm_conf"])
    try:
        if not cli.has_accounting():
            module.fail_json(msg=ACCOUNTING_REQUIRED % cli.config().get("AccountingStorageType"))
        cluster = p["cluster"] or cli.config().get("ClusterName")
        for account in p["accounts"]:
            if isinstance(account.get("fairshare"), str) and account["fairshare"].isdigit():
                account["fairshare"] = int(account["fairshare"])
        sacctmgr = Sacctmgr(cli, cluster)
        before = sacctmgr.read()
        try:
            wanted = check_declaration(p["qos"], p["accounts"], p["users"], before, p["purge"])
        except DeclarationError as exc:
            module.fail_json(msg="the declaration is refused, nothing was changed: " + str(exc), problems=exc.problems)
        commands, expected = plan(wanted, before, cluster, p["purge"])
        after = expected
        if commands and not module.check_mode:
            for command in commands:
                sacctmgr.execute(command)
            after = sacctmgr.read()
    except SlurmError as exc:
        module.fail_json(msg=str(exc), rc=exc.rc, stdout=exc.stdout, stderr=exc.stderr)
    result = dict(changed=bool(commands), commands=commands, cluster=cluster, **after.as_dict())
    if module._diff:
        result["diff"] = {"before": before.as_dict(), "after": after.as_dict()}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
