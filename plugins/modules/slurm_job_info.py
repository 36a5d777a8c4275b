#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: slurm_job_info
short_description: Look up Slurm jobs
version_added: "0.1.0"
description:
  - Finds jobs in the Slurm queue (including recently ended jobs the controller still remembers)
    and in the accounting database of the last 30 days, and returns the same per-job fields as
    M(hpc.parallelcluster.slurm_job).
  - All given filters must match.
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
  job_id:
    description: A job id (for an array, the array's job id).
    type: str
  name:
    description: Exact job name.
    type: str
  user:
    description: Owner of the jobs; every user when omitted.
    type: str
  state:
    description: Slurm states to keep, for example V([RUNNING, PENDING]).
    type: list
    elements: str
  idempotency_key:
    description: The key given to M(hpc.parallelcluster.slurm_job) when the job was submitted.
    type: str
  history:
    description:
      - Also search accounting (ended jobs the controller has forgotten), when the cluster keeps
        accounting. On a cluster without it (C(AccountingStorageType=accounting_storage/none) in
        C(scontrol show config)) only slurmctld is searched, whatever this says, and RV(accounting)
        is false.
    type: bool
    default: true
  tail_lines:
    description: Lines of each job's standard output to return in C(stdout_tail); 0 for none.
    type: int
    default: 0
notes:
  - Output paths are known while the controller remembers the job (C(MinJobAge), 300 s by default).
  - slurmctld is searched first and its record wins for a job it still holds, so a job that ended a
    moment ago is reported ended even while accounting (slurmdbd lags by a few seconds) still shows
    it pending or running.
  - Without accounting, a job that ended more than C(MinJobAge) ago cannot be found at all, by id,
    name or idempotency key.
  - The accounting database stores double quotes in job names as backticks; a name given with
    double quotes matches such records too.
seealso:
  - module: hpc.parallelcluster.slurm_job
"""

EXAMPLES = r"""
- name: Jobs of ec2-user still in the queue
  hpc.parallelcluster.slurm_job_info:
    user: ec2-user
    state: [PENDING, RUNNING]
  register: queue

- name: The job submitted with an idempotency key
  hpc.parallelcluster.slurm_job_info:
    idempotency_key: nightly-2024-06-01
    tail_lines: 10
"""

RETURN = r"""
accounting:
  description: Whether the cluster keeps accounting, so that jobs slurmctld has forgotten were searched too.
  returned: always
  type: bool
jobs:
  description: Matching jobs, newest first, with the fields M(hpc.parallelcluster.slurm_job) returns.
  returned: always
  type: list
  elements: dict
  contains:
    job_id:
      description: Job id.
      type: str
    name:
      description: Job name.
      type: str
    user:
      description: Owner.
      type: str
    state:
      description: Slurm state (for arrays, the first failure, else RUNNING/PENDING/COMPLETED).
      type: str
    exit_code:
      description: Exit status of the batch script; null while unknown.
      type: int
    nodes:
      description: Nodes the job ran on.
      type: str
    elapsed:
      description: Run time.
      type: str
    stdout_path:
      description: Standard output file, when known.
      type: str
    stderr_path:
      description: Standard error file, when known.
      type: str
    stdout_tail:
      description:
        - Last O(tail_lines) lines of the output, read only from a regular file owned by the job's
          user, never through a symbolic link at its last component (the job's user chooses the
          path; the module may run as root); otherwise null, and a warning says why.
      type: str
    idempotency_key:
      description: Idempotency key in the job's comment.
      type: str
    tasks:
      description: Per-task results (task_id, job_id, state, exit_code, nodes, stdout_path) of a job array.
      type: list
      elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import SlurmCLI, SlurmError
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_jobs import JobFinder


def main():
    module = AnsibleModule(
        argument_spec=dict(
            job_id=dict(type="str"),
            name=dict(type="str"),
            user=dict(type="str"),
            state=dict(type="list", elements="str"),
            idempotency_key=dict(type="str", no_log=False),
            history=dict(type="bool", default=True),
            tail_lines=dict(type="int", default=0),
            slurm_conf=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    finder = JobFinder(SlurmCLI(module.run_command, slurm_conf=p["slurm_conf"]))
    states = [s.upper() for s in p["state"]] if p["state"] else None
    try:
        ids = finder.search(user=p["user"], name=p["name"], states=states, idempotency_key=p["idempotency_key"],
                            job_ids=[p["job_id"]] if p["job_id"] else None, history=p["history"])
        accounting = finder.accounting
        jobs = []
        for job_id in ids:
            report = finder.report(job_id, p["tail_lines"])
            if report:
                report.pop("finished", None)
                jobs.append(report)
    except SlurmError as exc:
        module.fail_json(msg=str(exc), stderr=exc.stderr, rc=exc.rc)
    # Why a tail was left empty (a link, a FIFO, another user's file): the job's user chose the path.
    for warning in finder.warnings:
        module.warn(warning)
    module.exit_json(changed=False, jobs=jobs, accounting=accounting)


if __name__ == "__main__":
    main()
