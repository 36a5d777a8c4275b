#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: slurm_job
short_description: Submit, wait for or cancel a Slurm batch job
version_added: "0.1.0"
description:
  - Submits a batch job with C(sbatch) from script content, a script file or a single command,
    with the common sbatch options as structured parameters.
  - Can wait until the job (or every task of a job array) has ended, and fails the task when it
    ends other than C(COMPLETED), with its state, exit code and the tail of its output.
  - Cancels jobs by id or by name.
  - An O(idempotency_key) makes a re-run return the job submitted earlier instead of submitting
    another one.
  - Every Slurm command runs as an argument list, never through a shell; option values, job
    names, paths and environment values reach Slurm exactly as given.
  - Refused before anything is submitted, naming the parameter - control characters in any text
    parameter (O(script) and O(env) values may hold newlines and tabs, O(wrap) tabs; a carriage
    return is refused everywhere), a O(name) longer than 255 characters (what Slurm's accounting
    keeps), C(..) components in O(output), O(error) or O(chdir), O(env) names that are not variable
    names or that Slurm keeps for itself, and O(extra_args) items that would take over what the
    module passes itself (C(--), C(--export), C(--export-file), C(--wrap), C(--parsable), C(--test-only)
    or an abbreviation of them).
  - The job is submitted as the user the module runs as (use C(become_user) to submit as someone
    else).
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
    details: Reports the sbatch command that would run, or the jobs that would be cancelled.
  diff_mode:
    support: none
options:
  state:
    description:
      - V(submitted) submits and returns at once.
      - V(completed) submits (unless O(job_id) names an existing job) and waits until the job has
        ended; fails unless it ended C(COMPLETED).
      - V(cancelled) cancels the job O(job_id), or the pending and running jobs of the current user
        called O(name).
    type: str
    choices: [submitted, completed, cancelled]
    default: submitted
  script:
    description:
      - The batch script's content (it must start with C(#!)). Passed to sbatch on its standard input.
      - Mutually exclusive with O(script_path) and O(wrap).
    type: str
  script_path:
    description:
      - Path of a batch script on the managed host. Relative paths are resolved against O(chdir)
        (or the user's home directory). It follows C(--) on sbatch's command line, so it is always a
        path, even when it starts with C(-).
    type: path
  wrap:
    description:
      - One command line to run as the job (sbatch C(--wrap)). It is interpreted by the job's
        C(/bin/sh) on the compute node, as with sbatch, but never by a shell on the submitting side.
    type: str
  job_id:
    description:
      - An existing job to cancel (O(state=cancelled)) or to wait for (O(state=completed)).
    type: str
  name:
    description:
      - Job name (C(--job-name)). With O(state=cancelled) and no O(job_id), the name of the jobs
        to cancel.
    type: str
  partition:
    description: Partition (C(--partition)); the cluster's default partition when omitted.
    type: str
  nodes:
    description: Node count or range, for example V(2) or V(1-3) (C(--nodes)).
    type: str
  ntasks:
    description: Number of tasks (C(--ntasks)).
    type: int
  ntasks_per_node:
    description: Tasks per node (C(--ntasks-per-node)).
    type: int
  cpus_per_task:
    description: CPUs per task (C(--cpus-per-task)).
    type: int
  mem:
    description: Memory per node, for example V(1G) (C(--mem)).
    type: str
  time:
    description: Time limit in any sbatch format, for example V(10), V(00:05:00), V(1-00:00:00) (C(--time)).
    type: str
  array:
    description: Job array indexes, for example V(1-4) or V(1-10%2) (C(--array)).
    type: str
  dependency:
    description: Dependency list, for example V(afterok:123:124) (C(--dependency)).
    type: str
  output:
    description:
      - Standard output file (C(--output)); Slurm's C(%j), C(%A), C(%a), C(%x), C(%u) patterns apply,
        so a literal C(%) must be written C(%%).
    type: str
  error:
    description: Standard error file (C(--error)); defaults to the output file.
    type: str
  chdir:
    description:
      - Working directory of the job (C(--chdir)). Defaults to the home directory of the
        submitting user (not the module's temporary directory).
    type: path
  env:
    description:
      - Environment variables for the job, on top of the environment of the module's process (what
        sbatch's default C(--export=ALL) gives the job). Values are never quoted, split or expanded,
        and may hold newlines.
      - They reach the job only - in a private C(--export-file) - never the sbatch process, which
        runs with nothing but C(SLURM_CONF) in its environment; so names such as C(LD_PRELOAD),
        C(PATH) or C(SBATCH_*) change the job's environment, not what sbatch loads, reads or submits.
      - Refused - C(SLURM_CONF) (use O(slurm_conf)), and C(DISPLAY), C(ENVIRONMENT), C(HOSTNAME), which
        Slurm drops or sets itself. Other C(SLURM_*) variables that Slurm sets for every job keep
        Slurm's values.
    type: dict
  exclusive:
    description: Allocate the nodes exclusively (C(--exclusive)).
    type: bool
    default: false
  extra_args:
    description:
      - Further sbatch arguments, one list item per argument, for example
        V(["--constraint=efa", "--mail-type=END"]). They come before the script; options the module
        passes itself (C(--export), C(--export-file), C(--wrap), C(--parsable), C(--test-only)) and C(--)
        are refused.
    type: list
    elements: str
    default: []
  idempotency_key:
    description:
      - Stored in the job's comment as C(hpc.parallelcluster:idempotency_key=<key>). When a job of
        the current user carries the same key and is pending, running or completed (searched in
        slurmctld, which also holds jobs that ended less than C(MinJobAge) ago, and in the last 30
        days of accounting), that job is returned with C(changed=false) instead of a new submission.
        A failed or cancelled job is submitted again.
      - "On a cluster without accounting (no C(Scheduling.SlurmSettings.Database) or
        C(ExternalSlurmdbd): C(AccountingStorageType=accounting_storage/none), as found in
        C(scontrol show config), or a slurmrestd without the slurmdbd API) only slurmctld can be
        searched, and it forgets a job C(MinJobAge) (300 s by default) after its end. The module
        then records each key it submits in O(key_store); a key recorded there whose job slurmctld
        no longer holds fails the task, naming the job and the key, and nothing is submitted:
        whether that job completed cannot be checked any more. Give a new key to submit again."
    type: str
  key_store:
    description:
      - File in which the keys submitted on clusters without accounting are recorded (see
        O(idempotency_key)), on the host that runs the module, per cluster (its C(ClusterName), or
        O(rest_url) with O(backend=rest)).
      - Defaults to C(.ansible/hpc.parallelcluster/slurm_job_keys.json) in the home directory of
        the account running the module. Its folder must belong to that account and be writable by it
        alone; the file is written with mode C(0600) and never read through a symbolic link.
      - Not used on a cluster that keeps accounting.
    type: path
  wait_timeout:
    description: Seconds to wait for the job to end with O(state=completed), or to leave the queue after a cancel.
    type: int
    default: 600
  poll_interval:
    description:
      - First delay in seconds between status checks; the delay doubles after each check up to
        O(max_poll_interval).
    type: float
    default: 1.0
  max_poll_interval:
    description: Longest delay between status checks.
    type: float
    default: 10.0
  tail_lines:
    description: Number of lines of the job's standard output returned in RV(stdout_tail).
    type: int
    default: 20
  backend:
    description:
      - V(cli) runs the Slurm commands on the managed host (the head node, or any host with the
        Slurm client and the cluster's munge key).
      - V(rest) talks to the cluster's slurmrestd (role P(hpc.parallelcluster.slurm_rest#role)) over
        HTTP from wherever the task runs, the control node included; no SSH to the head node and no
        Slurm client are needed. The module uses the newest API version the server offers among
        v0.0.36 to v0.0.45 (Slurm 22.05 serves v0.0.36 to v0.0.38, 24.11 v0.0.40 to v0.0.42, 25.11
        v0.0.41 to v0.0.44, 26.05 v0.0.42 to v0.0.45). Results have the same fields and meaning as
        with V(cli).
      - "With V(rest): O(script_path) is read on the host that runs the task, with the rights of the
        account running it, and submitted as the job of O(rest_user), who can read it back from Slurm.
        So it is opened without following a symbolic link (at its last component or, on Linux, in any
        directory on the way), must be a regular file owned by root or by the account running the
        task, and at most 4 MiB (slurmctld's default C(max_script_size)); a relative path is resolved
        against O(chdir) (or its default). Any other file (a link, a FIFO, a directory, another user's file, a bigger
        one) is refused naming O(script_path) before anything is submitted; pass such a script's
        content with O(script) instead. Its content must pass sbatch's own checks (first line
        C(#!), no NUL character, no DOS line breaks) and be UTF-8."
      - "With V(rest): the job gets O(env) plus C(PATH=/usr/local/bin:/usr/bin:/bin), not the
        environment of the submitting process;
        O(chdir) defaults to the home directory of O(rest_user) on the host that runs the task,
        or C(/tmp); RV(stdout_tail) is only filled when the output file is readable there (a
        shared file system); O(extra_args) may only hold options with a REST equivalent (for
        example C(--constraint), C(--account), C(--qos), C(--mail-type))."
    type: str
    choices: [cli, rest]
    default: cli
  rest_url:
    description:
      - Base URL of slurmrestd, for example V(http://10.0.0.10:6830). Required with O(backend=rest).
    type: str
  rest_token:
    description:
      - A Slurm JWT for O(rest_user), as minted by M(hpc.parallelcluster.slurm_token) or
        C(scontrol token). A secret - never logged or returned. Required with O(backend=rest).
      - An expired token fails before any request is sent.
    type: str
  rest_user:
    description:
      - The Slurm user the requests act as (jobs are submitted as this user). Defaults to the user
        name inside O(rest_token).
    type: str
  rest_timeout:
    description: Seconds to wait for each HTTP answer of slurmrestd.
    type: int
    default: 30
  validate_certs:
    description: Whether to check the TLS certificate of an C(https) O(rest_url).
    type: bool
    default: true
notes:
  - A job that asks for more nodes or tasks than its partition has is refused at submission where
    C(EnforcePartLimits=ALL) is set, as ParallelCluster sets it. Without it, Slurm accepts the job and
    leaves it pending for ever (reason C(PartitionConfig)); the module then cancels it at once. Either
    way the module fails with the parameter to fix.
  - The accounting database stores double quotes in job names and comments as backticks; names are
    shown exactly as given while the controller still knows the job.
  - Jobs are looked up in slurmctld first, then in accounting, once per run the module asks whether
    the cluster keeps accounting. A job that ended a moment ago is reported from slurmctld's record,
    even while accounting (slurmdbd lags by a few seconds) still shows it pending or running.
  - Without accounting, a job is known only until slurmctld forgets it, C(MinJobAge) after its end.
    O(state=completed) fails, saying so, when the job left slurmctld between two status checks
    (keep O(max_poll_interval) below C(MinJobAge)); O(job_id) of such a job fails the same way.
seealso:
  - module: hpc.parallelcluster.slurm_job_info
"""

EXAMPLES = r"""
- name: Run the MPI smoke test on two nodes and wait for it
  hpc.parallelcluster.slurm_job:
    name: mpi-smoke-test
    script_path: /shared/jobs/mpi-smoke-test.sh
    nodes: "2"
    ntasks_per_node: 1
    time: "00:05:00"
    output: /shared/jobs/mpi-smoke-%j.out
    state: completed
    idempotency_key: smoke-{{ ansible_date_time.date }}
  become: true
  become_user: ec2-user
  register: smoke

- name: Submit a small array from inline content and return at once
  hpc.parallelcluster.slurm_job:
    name: sweep
    array: "1-4"
    env:
      ALPHA: "0.5"
    script: |
      #!/bin/bash
      echo "task $SLURM_ARRAY_TASK_ID alpha $ALPHA"
  register: sweep

- name: Post-process once the sweep succeeded
  hpc.parallelcluster.slurm_job:
    wrap: python3 /shared/collect.py
    dependency: afterok:{{ sweep.job_id }}
    state: completed

- name: Cancel every pending or running job called sweep
  hpc.parallelcluster.slurm_job:
    name: sweep
    state: cancelled
"""

RETURN = r"""
job_id:
  description: The job id (for an array, the array's job id).
  returned: when a job was submitted, found or cancelled
  type: str
  sample: "42"
job_ids:
  description: Every job id cancelled (or that would be cancelled in check mode).
  returned: state is cancelled
  type: list
  elements: str
state:
  description: Slurm job state (for an array, the first failure, else RUNNING/PENDING/COMPLETED).
  returned: when a job is known
  type: str
  sample: COMPLETED
exit_code:
  description: Exit status of the batch script (of the first failed task for an array); null while unknown.
  returned: when a job is known
  type: int
  sample: 0
exit_signal:
  description: Signal that ended the batch script, 0 if none.
  returned: when a job is known
  type: int
nodes:
  description: Nodes the job ran on (Slurm host list), null while pending.
  returned: when a job is known
  type: str
  sample: compute-dy-compute-nodes-[1-2]
elapsed:
  description: Run time as Slurm prints it (C([D-]HH:MM:SS)).
  returned: when a job is known
  type: str
  sample: "00:00:03"
stdout_path:
  description: Standard output file of the job (of the first failed task for an array).
  returned: when a job is known
  type: str
stderr_path:
  description: Standard error file of the job.
  returned: when a job is known
  type: str
stdout_tail:
  description:
    - The last O(tail_lines) lines of the standard output file, when it is readable.
    - The file is read only when it is a regular file owned by the job's user and not a symlink (the
      job chooses the path; the module may run as root); otherwise this is null and a warning says why.
  returned: when a job is known
  type: str
tasks:
  description: Per-task results of a job array.
  returned: for job arrays
  type: list
  elements: dict
  contains:
    task_id:
      description: Array index.
      type: str
    job_id:
      description: The task's own job id.
      type: str
    state:
      description: Slurm state of the task.
      type: str
    exit_code:
      description: Exit status of the task.
      type: int
    nodes:
      description: Nodes the task ran on.
      type: str
    stdout_path:
      description: Standard output file of the task.
      type: str
name:
  description: Job name.
  returned: when a job is known
  type: str
idempotency_key:
  description: Idempotency key found in the job's comment.
  returned: when a job is known
  type: str
reason:
  description: Slurm's reason for the job's state (why it is pending, for example).
  returned: when a job is known
  type: str
cmd:
  description:
    - The sbatch command line (as a list of arguments) that was, or would be, run, without the
      C(--export-file) that carries the job's environment.
    - With O(backend=rest), the sbatch command equivalent to the REST submission.
  returned: when a job is submitted or would be submitted
  type: list
  elements: str
"""

import os
import pwd
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hpc.parallelcluster.plugins.module_utils.job_input_checks import job_input_problems
from ansible_collections.hpc.parallelcluster.plugins.module_utils.job_keys import KeyStore, KeyStoreError, default_path
from ansible_collections.hpc.parallelcluster.plugins.module_utils.sbatch_options import (
    blame,
    build_options,
    job_environment,
)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import (
    TERMINAL_STATES,
    SlurmCLI,
    SlurmError,
)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_jobs import (
    REUSABLE_STATES,
    JobFinder,
)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_rest import RestError, SlurmREST
from ansible_collections.hpc.parallelcluster.plugins.module_utils.waiter import WaitTimeout, wait_for

# Pending reasons that mean the job can never start as submitted.
NEVER_RUNNABLE = frozenset(("PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints"))
LIVE_STATES = REUSABLE_STATES - {"COMPLETED"}

ARGUMENT_SPEC = dict(
    state=dict(type="str", default="submitted", choices=["submitted", "completed", "cancelled"]),
    script=dict(type="str"),
    script_path=dict(type="path"),
    wrap=dict(type="str"),
    job_id=dict(type="str"),
    name=dict(type="str"),
    partition=dict(type="str"),
    nodes=dict(type="str"),
    ntasks=dict(type="int"),
    ntasks_per_node=dict(type="int"),
    cpus_per_task=dict(type="int"),
    mem=dict(type="str"),
    time=dict(type="str"),
    array=dict(type="str"),
    dependency=dict(type="str"),
    output=dict(type="str"),
    error=dict(type="str"),
    chdir=dict(type="path"),
    env=dict(type="dict"),
    exclusive=dict(type="bool", default=False),
    extra_args=dict(type="list", elements="str", default=[]),
    idempotency_key=dict(type="str", no_log=False),
    wait_timeout=dict(type="int", default=600),
    poll_interval=dict(type="float", default=1.0),
    max_poll_interval=dict(type="float", default=10.0),
    tail_lines=dict(type="int", default=20),
    slurm_conf=dict(type="path"),
    backend=dict(type="str", default="cli", choices=["cli", "rest"]),
    rest_url=dict(type="str"),
    rest_token=dict(type="str", no_log=True),
    rest_user=dict(type="str"),
    rest_timeout=dict(type="int", default=30),
    validate_certs=dict(type="bool", default=True),
    key_store=dict(type="path", no_log=False),
)


class SlurmJob:
    """What one slurm_job task does, given the module (parameters, check mode, exits)."""

    def __init__(self, module, cli=None):
        self.module = module
        self.p = module.params
        if cli is None and self.p["backend"] == "rest":
            cli = SlurmREST(self.p["rest_url"], self.p["rest_token"], user=self.p["rest_user"],
                            timeout=self.p["rest_timeout"], validate_certs=self.p["validate_certs"])
        self.cli = cli or SlurmCLI(module.run_command, slurm_conf=self.p["slurm_conf"])
        self.finder = JobFinder(self.cli)
        if self.p["backend"] == "rest":
            # Jobs run as the token's user; its home (for the default chdir) only when known here.
            self.user = self.cli.user
            try:
                self.home = pwd.getpwnam(self.user).pw_dir
            except KeyError:
                self.home = "/tmp"
        else:
            account = pwd.getpwuid(os.geteuid())
            self.user, self.home = account.pw_name, account.pw_dir

    def report(self, job_id):
        result = self.finder.report(job_id, self.p["tail_lines"], self.p["output"], self.p["error"])
        for warning in self.finder.warnings:
            self.module.warn(warning)
        del self.finder.warnings[:]
        return result

    def wait_until_ended(self, job_id, on_pending=None):
        """Poll with backoff until every task of the job is in a terminal state, or (without
        accounting) until slurmctld no longer holds it: it forgets only ended jobs."""
        def ended():
            tasks = self.finder.tasks(job_id)
            if on_pending:
                on_pending(tasks)
            if not tasks and not self.finder.accounting:
                return True, tasks
            return bool(tasks) and all(t["state"] in TERMINAL_STATES for t in tasks), tasks

        try:
            wait_for(ended, self.p["wait_timeout"], initial=self.p["poll_interval"],
                     maximum=self.p["max_poll_interval"], what="job %s to end" % job_id)
        except WaitTimeout:
            result = self.report(job_id) or {}
            self.module.fail_json(msg="job %s did not end within %ss (state %s)"
                                  % (job_id, self.p["wait_timeout"], result.get("state")), **result)

    # submitted / completed -------------------------------------------------------------------

    def run_submit(self):
        p = self.p
        if p["job_id"]:
            return self.finish(p["job_id"], changed=False)
        if p["idempotency_key"]:
            existing = self.finder.search(user=self.user, idempotency_key=p["idempotency_key"],
                                          states=REUSABLE_STATES)
            if existing:
                return self.finish(existing[0], changed=False)
            if not self.finder.accounting:
                self.check_key_not_forgotten(p["idempotency_key"])
        options = build_options(p)
        try:
            env = job_environment(p["env"])
        except ValueError as exc:
            self.module.fail_json(msg=str(exc))
        cwd = p["chdir"] or self.home
        cmd = ["sbatch", "--parsable"] + options + self._source_args()
        if self.module.check_mode:
            self.module.exit_json(changed=True, cmd=cmd, msg="would submit a job")
        try:
            job_id = self.cli.submit(options, script=p["script"], script_path=p["script_path"], wrap=p["wrap"],
                                     env=env, cwd=cwd)
        except SlurmError as exc:
            if getattr(exc, "kind", "slurm") != "slurm":
                raise  # a REST transport or authentication failure, not Slurm refusing the job
            self.refused(exc.slurm_message, exc)
        if p["idempotency_key"] and not self.finder.accounting:
            try:
                self.key_store().remember(self.cli.cluster_id(), p["idempotency_key"], job_id)
            except (KeyStoreError, IOError, OSError) as exc:
                self.module.warn("job %s was submitted, but its idempotency_key could not be recorded: %s"
                                 % (job_id, exc))
        self.check_runnable(job_id, self.finder.tasks(job_id), options, env, cwd)
        return self.finish(job_id, changed=True, cmd=cmd, options=options, env=env, cwd=cwd)

    def key_store(self):
        return KeyStore(self.p["key_store"] or default_path())

    def check_key_not_forgotten(self, key):
        """Without accounting: fail when ``key`` was submitted here before and slurmctld no longer holds
        any job with it (a failed or cancelled one it still holds is submitted again, as documented)."""
        if self.finder.search(user=self.user, idempotency_key=key):
            return
        store = self.key_store()
        try:
            record = store.lookup(self.cli.cluster_id(), key)
        except KeyStoreError as exc:
            self.module.fail_json(msg="invalid parameters, nothing was submitted: %s" % exc, parameters=["key_store"])
        if record is None:
            return
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.get("submitted") or 0))
        self.module.fail_json(
            msg="idempotency_key %r was used for job %s, submitted at %s (recorded in %s); %s. Nothing was "
                "submitted: whether that job completed cannot be checked any more. Give a new idempotency_key "
                "to submit again." % (key, record.get("job_id"), when, store.path,
                                      self.finder.forgotten("that job")),
            job_id=record.get("job_id"), idempotency_key=key, accounting=False)

    def _source_args(self):
        if self.p["wrap"] is not None:
            return ["--wrap=" + self.p["wrap"]]
        if self.p["script_path"] is not None:
            return ["--", self.p["script_path"]]
        return []

    def refused(self, message, exc=None, job_id=None):
        params = blame(message, self.p)
        where = " (check parameter %s)" % ", ".join(params) if params else ""
        self.module.fail_json(msg="Slurm refused the job%s: %s" % (where, message), parameters=params,
                              job_id=job_id, stderr=getattr(exc, "stderr", None),
                              rc=getattr(exc, "rc", None))

    def check_runnable(self, job_id, tasks, options, env, cwd):
        """Cancel and fail a job that Slurm accepted but will never start (too many nodes/tasks)."""
        stuck = [t for t in tasks if t["state"] == "PENDING" and t.get("reason") in NEVER_RUNNABLE]
        if not stuck:
            return
        reason = stuck[0]["reason"]
        self.cli.cancel(job_ids=[job_id])
        detail = ""
        try:
            detail = self.cli.submit(options, script=self.p["script"], script_path=self.p["script_path"],
                                     wrap=self.p["wrap"], env=env, cwd=cwd, test_only=True)
        except SlurmError as exc:
            detail = exc.slurm_message
        except Exception:  # the explanation is a courtesy; the refusal stands without it
            pass
        self.refused("job %s can never start (pending, reason %s; cancelled)%s"
                     % (job_id, reason, ": " + detail if detail else ""), job_id=job_id)

    def finish(self, job_id, changed, cmd=None, options=None, env=None, cwd=None):
        if self.p["state"] == "completed":
            guard = None
            if changed:
                def guard(tasks):
                    self.check_runnable(job_id, tasks, options, env, cwd)
            self.wait_until_ended(job_id, on_pending=guard)
        result = self.report(job_id)
        if result is None:
            self.unknown(job_id)
        result.pop("finished", None)
        if cmd:
            result["cmd"] = cmd
        if self.p["state"] == "completed" and result["state"] != "COMPLETED":
            failed = [t for t in result.get("tasks", []) if t["state"] != "COMPLETED"]
            which = (" (tasks %s)" % ", ".join("%s=%s" % (t["task_id"], t["state"]) for t in failed)) if failed else ""
            self.module.fail_json(msg="job %s ended %s%s with exit code %s; last output:\n%s"
                                  % (job_id, result["state"], which, result["exit_code"], result.get("stdout_tail") or ""),
                                  changed=changed, **result)
        self.module.exit_json(changed=changed, **result)

    def unknown(self, job_id):
        if self.finder.accounting:
            self.module.fail_json(msg="job %s is unknown to Slurm" % job_id, job_id=job_id)
        self.module.fail_json(msg="job %s cannot be reported: %s" % (job_id, self.finder.forgotten("it")),
                              job_id=job_id, accounting=False)

    # cancelled ---------------------------------------------------------------------------------

    def run_cancel(self):
        p = self.p
        if p["job_id"]:
            result = self.report(p["job_id"])
            if result is None:
                self.unknown(p["job_id"])
            ids = [] if result["finished"] else [p["job_id"]]
        else:
            ids = self.finder.search(user=self.user, name=p["name"], states=LIVE_STATES, history=False)
        if not ids:
            result = self.report(p["job_id"]) if p["job_id"] else {}
            result = result or {}
            result.pop("finished", None)
            self.module.exit_json(changed=False, job_ids=[], **result)
        if self.module.check_mode:
            self.module.exit_json(changed=True, job_ids=ids, job_id=ids[0], msg="would cancel %s" % ", ".join(ids))
        try:
            self.cli.cancel(job_ids=ids)
        except SlurmError as exc:
            if getattr(exc, "kind", "slurm") != "slurm":
                raise
            self.module.fail_json(msg="scancel failed: %s" % exc.slurm_message, job_ids=ids, stderr=exc.stderr)
        for job_id in ids:
            self.wait_until_ended(job_id)
        result = self.report(ids[0]) or {}
        result.pop("finished", None)
        self.module.exit_json(changed=True, job_ids=ids, **result)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("script", "script_path", "wrap")],
        required_if=[("state", "cancelled", ("job_id", "name"), True), ("backend", "rest", ("rest_url",))],
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] != "cancelled" and not p["job_id"] and not any(p[k] is not None for k in ("script", "script_path", "wrap")):
        module.fail_json(msg="one of script, script_path or wrap is required to submit a job")
    problems = job_input_problems(p)
    if problems:
        module.fail_json(msg="invalid parameters, nothing was submitted: %s"
                         % "; ".join("%s %s" % problem for problem in problems),
                         parameters=sorted(set(key for key, _problem in problems)))
    try:
        job = SlurmJob(module)
        if p["state"] == "cancelled":
            job.run_cancel()
        else:
            job.run_submit()
    except RestError as exc:
        module.fail_json(msg=str(exc), error_kind=exc.kind, status=exc.status, url=exc.url,
                         slurm_errors=exc.errors)
    except SlurmError as exc:
        module.fail_json(msg=str(exc), stderr=exc.stderr, rc=exc.rc, cmd=exc.cmd)


if __name__ == "__main__":
    main()
