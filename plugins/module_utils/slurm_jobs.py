# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One job's report (state, exit code, nodes, elapsed, output paths and tail, array tasks) and job
searches, from the controller while it remembers the job and from accounting afterwards. Shared by
slurm_job and slurm_job_info so both return the same shape.

slurmctld is asked first and wins: it knows a job that ended a moment ago before slurmdbd records
the end, and it is all there is on a cluster without accounting (asked once per run, see
``JobFinder.accounting``), where a job is gone once slurmctld forgets it (MinJobAge after its end)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import re

from ansible_collections.hpc.parallelcluster.plugins.module_utils.owned_files import open_owned
from ansible_collections.hpc.parallelcluster.plugins.module_utils.sbatch_options import decode_key
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import (
    TERMINAL_STATES,
    null,
    state_word,
)

# Live states an idempotency key matches (plus COMPLETED): a failed or cancelled job is resubmitted.
REUSABLE_STATES = frozenset(("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED",
                             "REQUEUED", "RESIZING", "STAGE_OUT", "COMPLETED"))
# How far back accounting is searched for names and idempotency keys.
HISTORY_START = "now-30days"


def _owner_uid(user):
    """The uid of a job's user: 'ec2-user(1001)' carries it, a bare name is looked up; None if unknown."""
    match = re.search(r"\((\d+)\)$", user or "")
    if match:
        return int(match.group(1))
    try:
        return pwd.getpwnam(user).pw_uid if user else None
    except KeyError:
        return None


def tail(path, lines, owner=None, warn=None):
    """The last ``lines`` lines of a job's output file, or None when it cannot be read.

    Read only when it is a regular file owned by the job's user ``owner`` (a name or
    'name(uid)'); otherwise None, and ``warn`` (if given) is told why."""
    if not path or lines <= 0:
        return None
    uid = _owner_uid(owner)
    if uid is None:
        why = "its owner, the job's user %r, is unknown here" % owner
        handle = None
    else:
        handle, why = open_owned(path, (uid,), "the job's user (uid %d)" % uid)
    if handle is None:
        if warn and not (why or "").startswith("cannot be opened (No such file"):
            warn("stdout_tail left empty: %s %s" % (path, why))
        return None
    with handle:
        try:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 65536 * max(1, lines // 100 + 1)))
            data = handle.read()
        except (IOError, OSError):
            return None
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def _user(value):
    """'ec2-user(1001)' -> 'ec2-user'."""
    return re.sub(r"\(\d+\)$", "", value or "") or None


def expand_path(pattern, job_id, task_id=None, array_job_id=None, name=None, user=None, work_dir=None):
    """A subset of sbatch's filename patterns (%j %A %a %x %u %%), for paths Slurm no longer reports."""
    if not pattern:
        return None
    repl = {"j": str(job_id), "A": str(array_job_id or job_id), "a": str(task_id) if task_id is not None else "4294967294",
            "x": name or "", "u": user or "", "%": "%"}
    path = re.sub(r"%([jAaxu%])", lambda m: repl[m.group(1)], pattern)
    if work_dir and not os.path.isabs(path):
        path = os.path.join(work_dir, path)
    return path


def split_exit(value):
    """Slurm's 'status:signal' ('3:0') as (3, 0); (None, None) when unknown."""
    try:
        code, _sep, signal = (value or "").partition(":")
        return int(code), int(signal or 0)
    except ValueError:
        return None, None


def _task_from_scontrol(rec):
    return {
        "job_id": rec.get("JobId"),
        "array_job_id": null(rec.get("ArrayJobId")),
        "task_id": null(rec.get("ArrayTaskId")),
        "name": rec.get("JobName"),
        "user": _user(rec.get("UserId")),
        "owner": rec.get("UserId"),
        "state": state_word(rec.get("JobState")),
        "reason": null(rec.get("Reason")),
        "exit_code": rec.get("ExitCode"),
        "nodes": null(rec.get("NodeList")),
        "elapsed": rec.get("RunTime"),
        "partition": rec.get("Partition"),
        "comment": null(rec.get("Comment")),
        "work_dir": rec.get("WorkDir"),
        "stdout_path": null(rec.get("StdOut")),
        "stderr_path": null(rec.get("StdErr")),
    }


def _task_from_sacct(row):
    job_id = row["JobID"]
    array_job_id, task_id = (job_id.split("_", 1) + [None])[:2] if "_" in job_id else (None, None)
    return {
        "job_id": row["JobIDRaw"],
        "array_job_id": array_job_id,
        "task_id": task_id,
        "name": row["JobName"],
        "user": null(row["User"]),
        "state": state_word(row["State"]),
        "reason": null(row.get("Reason")),
        "exit_code": row["ExitCode"],
        "nodes": null(row["NodeList"]) if row["NodeList"] != "None assigned" else None,
        "elapsed": row["Elapsed"],
        "partition": row["Partition"],
        "comment": null(row["Comment"]),
        "work_dir": row["WorkDir"],
        "stdout_path": None,
        "stderr_path": None,
    }


def _task_from_queue(row):
    return {
        "job_id": row["job_id"].split("_", 1)[0] if "_" not in row["job_id"] else None,
        "array_job_id": null(row["array_job_id"]) if null(row["array_task_id"]) else None,
        "task_id": null(row["array_task_id"]),
        "name": row["name"],
        "user": row["user"],
        "state": state_word(row["state"]),
        "reason": null(row["reason"]),
        "exit_code": None,
        "nodes": null(row["nodes"]),
        "elapsed": row["elapsed"],
        "partition": row["partition"],
        "comment": null(row["comment"]),
        "work_dir": row["work_dir"],
        "stdout_path": None,
        "stderr_path": None,
    }


def _sort_key(task):
    tid = task.get("task_id") or ""
    return (0, int(tid)) if tid.isdigit() else (1, tid)


def summarize(job_id, tasks, tail_lines=0, output=None, error=None, warn=None):
    """The per-job result: one job, or an array whose state is the worst of its tasks. The output
    tail is read with the job user's rights only (see tail); ``warn`` hears why it was not."""
    tasks = sorted(tasks, key=_sort_key)
    is_array = any(t.get("task_id") is not None for t in tasks)
    first = tasks[0]
    for task in tasks:
        if not task.get("stdout_path") and output:
            task["stdout_path"] = expand_path(output, task["job_id"], task.get("task_id"), job_id,
                                              task.get("name"), task.get("user"), task.get("work_dir"))
        if not task.get("stderr_path") and (error or output):
            task["stderr_path"] = expand_path(error or output, task["job_id"], task.get("task_id"), job_id,
                                              task.get("name"), task.get("user"), task.get("work_dir"))
    states = [t["state"] for t in tasks]
    if not is_array:
        state = first["state"]
    elif all(s in TERMINAL_STATES for s in states):
        bad = [s for s in states if s != "COMPLETED"]
        state = bad[0] if bad else "COMPLETED"
    else:
        live = [s for s in states if s not in TERMINAL_STATES]
        state = "RUNNING" if any(s != "PENDING" for s in live) else "PENDING"
    worst = next((t for t in tasks if t["state"] not in ("COMPLETED",) and t["state"] in TERMINAL_STATES), first)
    result = {
        "job_id": str(job_id),
        "name": first.get("name"),
        "user": first.get("user"),
        "partition": first.get("partition"),
        "state": state,
        "reason": first.get("reason"),
        "exit_code": split_exit(worst.get("exit_code"))[0],
        "exit_signal": split_exit(worst.get("exit_code"))[1],
        "nodes": first.get("nodes") if not is_array else ",".join(sorted({t["nodes"] for t in tasks if t.get("nodes")})) or None,
        "elapsed": first.get("elapsed") if not is_array else max((t.get("elapsed") or "" for t in tasks), key=_elapsed_seconds),
        "work_dir": first.get("work_dir"),
        "idempotency_key": decode_key(first.get("comment")),
        "stdout_path": worst.get("stdout_path"),
        "stderr_path": worst.get("stderr_path"),
        "stdout_tail": tail(worst.get("stdout_path"), tail_lines, worst.get("owner") or worst.get("user"),
                            warn) if tail_lines else None,
        "finished": all(s in TERMINAL_STATES for s in states),
    }
    if is_array:
        result["tasks"] = [{"task_id": t.get("task_id"), "job_id": t.get("job_id"), "state": t["state"],
                            "exit_code": split_exit(t.get("exit_code"))[0], "nodes": t.get("nodes"),
                            "stdout_path": t.get("stdout_path")} for t in tasks]
    return result


def _elapsed_seconds(text):
    """'1-02:03:04' / '02:03' style durations in seconds, for picking the longest array task."""
    if not text:
        return -1
    days = 0
    if "-" in text:
        day_text, text = text.split("-", 1)
        days = int(day_text) if day_text.isdigit() else 0
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + (int(part) if part.isdigit() else 0)
    return days * 86400 + seconds


class JobFinder:
    """Reports and searches over one SlurmCLI (or SlurmREST)."""

    def __init__(self, cli):
        self.cli = cli
        # Why an output tail was left empty, for the module to show as warnings.
        self.warnings = []
        self._accounting = None

    @property
    def accounting(self):
        """Whether the cluster keeps accounting (asked once: slurmctld's AccountingStorageType, or the
        slurmdbd API slurmrestd offers)."""
        if self._accounting is None:
            self._accounting = bool(self.cli.has_accounting())
        return self._accounting

    def forgotten(self, what):
        """Why ``what`` (a job, a key) cannot be found on a cluster without accounting, for messages."""
        age = self.cli.min_job_age()
        return ("%s is not known to slurmctld, which keeps an ended job only for MinJobAge (%s) after its end, "
                "and the cluster keeps no accounting (no Scheduling.SlurmSettings.Database or ExternalSlurmdbd, "
                "AccountingStorageType=accounting_storage/none) to look it up in"
                % (what, age or "300 sec by default"))

    def tasks(self, job_id):
        """Task records of one job: the controller's view while it has one, accounting's after (when
        the cluster keeps accounting; [] otherwise)."""
        records = self.cli.show_job(job_id)
        if records:
            return [_task_from_scontrol(r) for r in records]
        if not self.accounting:
            return []
        tasks = [_task_from_sacct(r) for r in self.cli.accounting(job_ids=[job_id])]
        return [t for t in tasks if (t["array_job_id"] or t["job_id"]) == str(job_id)]

    def report(self, job_id, tail_lines=0, output=None, error=None):
        tasks = self.tasks(job_id)
        if not tasks:
            return None
        return summarize(job_id, tasks, tail_lines, output, error, warn=self.warnings.append)

    def search(self, user=None, name=None, states=None, idempotency_key=None, job_ids=None, history=True):
        """Job ids (newest first) matching every given filter, from slurmctld (the queue, with the
        jobs that ended less than MinJobAge ago) and, with ``history`` on a cluster that keeps
        accounting, from accounting. A job slurmctld still holds is judged on slurmctld's record
        alone: accounting may still show it pending or running for a moment after it ended."""
        found = {}
        held = set()
        for row in self.cli.queue(user=user, job_ids=job_ids):
            task = _task_from_queue(row)
            top = task["array_job_id"] or task["job_id"] or row["job_id"].split("_", 1)[0]
            held.add(top)
            if self._matches(task, name, states, idempotency_key):
                found.setdefault(top, task["state"])
        if history and self.accounting:
            for row in self.cli.accounting(job_ids=job_ids, user=user, all_users=not user, starttime=HISTORY_START):
                task = _task_from_sacct(row)
                top = task["array_job_id"] or task["job_id"]
                if top not in held and top not in found and self._matches(task, name, states, idempotency_key,
                                                                          accounting=True):
                    found[top] = task["state"]
        return sorted(found, key=lambda j: int(j) if j.isdigit() else 0, reverse=True)

    @staticmethod
    def _matches(task, name, states, idempotency_key, accounting=False):
        if name is not None:
            have = task["name"] or ""
            if accounting:
                # slurmdbd stores double quotes as backticks.
                name = name.replace('"', "`")
            if have != name:
                return False
        if states and task["state"] not in states:
            return False
        if idempotency_key is not None and decode_key(task.get("comment")) != idempotency_key:
            return False
        return True
