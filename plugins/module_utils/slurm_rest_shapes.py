# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How each slurmrestd API version spells a job, and how its records read as CLI rows.

slurm_rest turns sbatch options into version-neutral job properties; this file shapes them for
one API version and turns that version's job records back into the rows the CLI prints
(``scontrol show job``, squeue, sacct). The shapes come from the servers themselves: v0.0.38
from Slurm 22.05.8, v0.0.40 to v0.0.42 from Slurm 24.11.5 (Debian 13) and v0.0.42 to v0.0.45
from Slurm 26.05.5 (Debian sid), whose OpenAPI documents and answers are the unit tests'
fixtures; v0.0.39 from Slurm 23.02's data_parser source.

- v0.0.36 to v0.0.38 (Slurm 21.08, 22.05): ``environment`` an object, plain numbers,
  ``job_state`` a word, output paths as the user gave them (``%j`` unexpanded).
- v0.0.39 (23.02) and later: ``environment`` a list of ``NAME=value``, some numbers as
  ``{"set", "infinite", "number"}`` objects, ``job_state`` a list (base state and flags),
  output paths expanded by the server, ``mail_type`` a list of flags.
- v0.0.40 and later (23.11+): ``nodes`` a count range string, the script inside ``job``,
  ``shared: ["none"]`` for ``--exclusive`` (v0.0.42 dropped ``exclusive``).
- v0.0.43 and later (25.11+): output paths as given, expanded in ``stdout_expanded``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_jobs import expand_path

# Newest first: the first one the server offers is used.
KNOWN_VERSIONS = ("0.0.45", "0.0.44", "0.0.43", "0.0.42", "0.0.41", "0.0.40", "0.0.39", "0.0.38", "0.0.37",
                  "0.0.36")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# Slurm's NO_VAL: what the server puts for %a in a pending array's expanded output path.
NO_VAL = 4294967294
# job_state_string()'s order (src/common/slurm_protocol_defs.c): a flag names the state before the base.
STATE_FLAGS = ("COMPLETING", "STAGE_OUT", "CONFIGURING", "RESIZING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD",
               "SPECIAL_EXIT", "STOPPED", "REVOKED", "RESV_DEL_HOLD", "SIGNALING")
BASE_STATES = frozenset(("PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT",
                         "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"))
# sbatch --mail-type words (parse_mail_type) as the REST flags of v0.0.39+.
MAIL_FLAGS = {"BEGIN": ["BEGIN"], "END": ["END"], "FAIL": ["FAIL"], "REQUEUE": ["REQUEUE"],
              "ARRAY_TASKS": ["ARRAY_TASKS"], "STAGE_OUT": ["STAGE_OUT"], "INVALID_DEPEND": ["INVALID_DEPENDENCY"],
              "TIME_LIMIT": ["TIME=100%"], "TIME_LIMIT_90": ["TIME=90%"], "TIME_LIMIT_80": ["TIME=80%"],
              "TIME_LIMIT_50": ["TIME=50%"],
              "ALL": ["INVALID_DEPENDENCY", "BEGIN", "END", "FAIL", "REQUEUE", "STAGE_OUT"]}


def version_key(version):
    return tuple(int(p) for p in version.split("."))


def env_as_object(version):
    """v0.0.36 to v0.0.38 take ``environment`` as an object and numbers plain."""
    return version_key(version) < (0, 0, 39)


def data_parser_era(version):
    """v0.0.40+ (Slurm 23.11 and later): one data_parser plugin serves both slurmctld and slurmdbd."""
    return version_key(version) >= (0, 0, 40)


def no_val(value):
    """A number as v0.0.39+ spell the fields that may be unset or infinite."""
    return {"set": True, "infinite": False, "number": value}


def mail_flags(value):
    """'BEGIN,END' -> ['BEGIN', 'END'] (sbatch's words as v0.0.39+'s flags); ValueError for an unknown word."""
    flags = []
    for word in str(value).upper().split(","):
        word = word.strip()
        if word == "NONE":
            return []
        if word not in MAIL_FLAGS:
            raise ValueError(value)
        flags += [f for f in MAIL_FLAGS[word] if f not in flags]
    return flags


# job properties -> request body --------------------------------------------------------------

def shape_job(props, env, version):
    """The ``job`` object of a submission for ``version``, from version-neutral properties.

    ``props`` holds Python values: ``nodes`` a [min] or [min, max] list, ``time_limit`` minutes,
    ``memory_per_node`` MB, ``exclusive`` the --exclusive value ('' for plain --exclusive),
    ``mail_type`` and ``begin_time`` as sbatch took them. ValueError names a property the
    version cannot take."""
    job = dict(props)
    environment = {"PATH": DEFAULT_PATH}
    environment.update(env or {})
    if env_as_object(version):
        job["environment"] = environment
        if "exclusive" in job:
            job["exclusive"] = "true"
        return job
    job["environment"] = ["%s=%s" % item for item in sorted(environment.items())]
    for key in ("time_limit", "memory_per_node"):
        if key in job:
            job[key] = no_val(job[key])
    if "mail_type" in job:
        job["mail_type"] = mail_flags(job["mail_type"])
    if "begin_time" in job:
        begin = str(job["begin_time"])
        if begin.isdigit():
            job["begin_time"] = no_val(int(begin))
        elif not data_parser_era(version):
            raise ValueError("begin_time")
    if not data_parser_era(version):
        if "exclusive" in job:
            job["exclusive"] = "true"
        return job
    if "nodes" in job:
        job["nodes"] = "-".join(str(n) for n in job["nodes"])
    if "exclusive" in job:
        job["shared"] = [job.pop("exclusive") or "none"]
    return job


def submit_body(script, job, version):
    """v0.0.40+ read the script from the job (the top-level ``script`` is deprecated from v0.0.41)."""
    if data_parser_era(version):
        return {"job": dict(job, script=script)}
    return {"script": script, "job": job}


# REST job records as CLI rows -------------------------------------------------------------------

def number(value):
    """Unwraps v0.0.39+'s {"set", "infinite", "number"} objects; plain values pass through."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return None
        return value.get("number")
    return value


def duration(seconds):
    """Seconds as Slurm prints a run time: [D-]HH:MM:SS."""
    seconds = max(0, int(seconds or 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "%02d:%02d:%02d" % (hours, minutes, secs)
    return "%d-%s" % (days, text) if days else text


def wait_status(status):
    """A raw wait(2) status, or v0.0.39+'s exit code object, as Slurm's 'code:signal'."""
    if isinstance(status, dict):  # {"status": [...], "return_code": {...}, "signal": {"id": {...}, "name"}}
        code = number(status.get("return_code")) or 0
        signal = status.get("signal") or {}
        signal = number(signal.get("id", signal.get("signal_id"))) or 0
        return "%d:%d" % (code, signal)
    status = number(status)
    if status is None:
        return None
    status = int(status)
    if status & 0x7F:
        return "0:%d" % (status & 0x7F)
    return "%d:0" % ((status >> 8) & 0xFF)


def state_name(value):
    """The state word scontrol and squeue print: v0.0.39+ list the base state and its flags, and a
    flag such as COMPLETING names the state before the base, as job_state_string() does."""
    if not isinstance(value, list):
        return value
    for flag in STATE_FLAGS:
        if flag in value:
            return flag
    return base_state(value)


def base_state(value):
    """The base state without its flags (a job COMPLETING after it was CANCELLED is CANCELLED);
    v0.0.38's single word is all there is."""
    if not isinstance(value, list):
        return value
    base = [v for v in value if v in BASE_STATES]
    return (base or value or [None])[0]


def _text(value):
    return "" if value is None else str(value)


def _array_task(job):
    task = number(job.get("array_task_id"))
    array_job = number(job.get("array_job_id")) or 0
    if array_job and task is not None:
        return str(array_job), str(task)
    return None, None


def _output_path(job, path, array_job_id, task_id):
    """An output path as scontrol prints it: v0.0.39+ send it expanded (absolute, with NO_VAL for a
    pending array's %a); older versions send the user's pattern, or nothing for the default."""
    if path and "%" not in path and os.path.isabs(path):
        if task_id is not None:
            path = path.replace(str(NO_VAL), str(task_id))
        return path
    if not path:
        path = "slurm-%A_%a.out" if task_id is not None else "slurm-%j.out"
    return expand_path(path, job.get("job_id"), task_id, array_job_id, job.get("name"), job.get("user_name"),
                       job.get("current_working_directory"))


def scontrol_record(job, now=None):
    """A slurmctld job record in ``scontrol show job --oneliner``'s keys (slurm_jobs reads those)."""
    now = time.time() if now is None else now
    array_job_id, task_id = _array_task(job)
    state = state_name(job.get("job_state"))
    base = base_state(job.get("job_state"))
    start, end = number(job.get("start_time")) or 0, number(job.get("end_time")) or 0
    if base == "PENDING" or not start:
        run = 0
    elif base in ("RUNNING", "SUSPENDED", "COMPLETING", "CONFIGURING") or not end or end < start:
        run = now - start
    else:
        run = end - start
    # v0.0.39 to v0.0.42 send standard_output expanded; v0.0.43+ send the pattern there and the
    # expansion in stdout_expanded, and leave standard_error empty when it goes with the output.
    stdout = job.get("stdout_expanded") or job.get("standard_output") or ""
    out = _output_path(job, stdout, array_job_id, task_id)
    err = _output_path(job, job.get("stderr_expanded") or job.get("standard_error") or stdout, array_job_id, task_id)
    return {
        "JobId": str(job.get("job_id")),
        "ArrayJobId": array_job_id,
        "ArrayTaskId": task_id,
        "JobName": job.get("name"),
        "UserId": "%s(%s)" % (job.get("user_name"), job.get("user_id")),
        "JobState": state,
        "Reason": job.get("state_reason"),
        "ExitCode": wait_status(job.get("exit_code")),
        "NodeList": job.get("nodes") or None,
        "RunTime": duration(run),
        "Partition": job.get("partition"),
        "Comment": job.get("comment") or None,
        "WorkDir": job.get("current_working_directory"),
        "StdOut": out,
        "StdErr": err,
    }


def queue_row(job, array_job_id=None, task_id=None, now=None):
    """A job record as an squeue row (QUEUE_FIELDS)."""
    rec = scontrol_record(job, now)
    if task_id is None:
        array_job_id, task_id = rec["ArrayJobId"], rec["ArrayTaskId"]
    job_id = rec["JobId"] if task_id is None else "%s_%s" % (array_job_id, task_id)
    return {
        "job_id": job_id, "array_job_id": array_job_id or rec["JobId"], "array_task_id": task_id or "N/A",
        "name": _text(rec["JobName"]), "state": _text(rec["JobState"]), "user": _text(job.get("user_name")),
        "comment": _text(rec["Comment"]), "reason": _text(rec["Reason"]), "node_count": _text(number(job.get("node_count"))),
        "nodes": _text(rec["NodeList"]), "elapsed": rec["RunTime"], "work_dir": _text(rec["WorkDir"]),
        "partition": _text(rec["Partition"]),
    }


def pending_tasks(job):
    """The task ids of a pending array record (its unsplit tasks), or [] for any other record."""
    array_job = number(job.get("array_job_id")) or 0
    spec = job.get("array_task_string")
    if array_job and spec and state_name(job.get("job_state")) == "PENDING":
        return expand_indexes(spec)
    return []


def expand_indexes(spec):
    """'1-4,7%2' -> ['1', '2', '3', '4', '7'] (a pending array's unsplit tasks)."""
    out = []
    for part in (spec or "").split("%")[0].split(","):
        match = re.match(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$", part.strip())
        if match:
            first, last, step = int(match.group(1)), int(match.group(2) or match.group(1)), int(match.group(3) or 1)
            out += [str(i) for i in range(first, last + 1, step)]
    return out


def sacct_row(job):
    """A slurmdbd job record as an sacct row (ACCOUNTING_FIELDS)."""
    array = job.get("array") or {}
    task = number(array.get("task_id"))
    array_job = number(array.get("job_id")) or 0
    job_id = str(job.get("job_id"))
    shown = "%s_%s" % (array_job, task) if array_job and task is not None else job_id
    state = job.get("state") or {}
    nodes = job.get("nodes") or "None assigned"
    comment = job.get("comment") or {}
    return {
        "JobID": shown, "JobIDRaw": job_id, "JobName": _text(job.get("name")),
        "State": _text(state_name(state.get("current"))), "ExitCode": wait_status(job.get("exit_code") or {}),
        "NodeList": nodes, "NNodes": _text(number(job.get("allocation_nodes"))),
        "Elapsed": duration(number((job.get("time") or {}).get("elapsed"))), "User": _text(job.get("user")),
        "Comment": _text(comment.get("job") if isinstance(comment, dict) else comment),
        "WorkDir": _text(job.get("working_directory")), "Partition": _text(job.get("partition")),
        "Reason": _text(state.get("reason")),
    }


def history_start(spec, now=None):
    """sacct's 'now-30days' as YYYY-MM-DDTHH:MM:SS, which every slurmdbd version parses (v0.0.40 and
    v0.0.41 refuse a UNIX time there); other values pass through."""
    match = re.match(r"^now-(\d+)days$", spec or "")
    if not match:
        return spec
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now - int(match.group(1)) * 86400))
