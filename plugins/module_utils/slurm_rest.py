# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small slurmrestd client with the SlurmCLI interface.

``SlurmREST`` has the methods of ``slurm_cli.SlurmCLI`` that slurm_job uses (submit, queue,
show_job, accounting, cancel) and returns the same row shapes (squeue rows, ``scontrol show job``
records, sacct rows), so ``slurm_jobs.JobFinder`` and slurm_job work unchanged on top of it and
report the same fields with either backend.

The API version is negotiated from the server's ``/openapi/v3`` document. Slurm 22.05 serves
v0.0.36 to v0.0.38 (``environment`` an object); v0.0.39 (Slurm 23.02) takes ``environment`` as
a list of ``NAME=value`` strings and wraps numbers as ``{"set": .., "number": ..}`` objects.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import re
import socket
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode
from ansible.module_utils.urls import open_url

from ansible_collections.hpc.parallelcluster.plugins.module_utils.owned_files import open_owned, read_at_most
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import SlurmError

# Newest first: the first one the server offers is used.
KNOWN_VERSIONS = ("0.0.39", "0.0.38", "0.0.37", "0.0.36")
# Versions whose job submission takes ``environment`` as an object (Slurm 21.08 and 22.05).
ENV_AS_OBJECT = frozenset(("0.0.36", "0.0.37", "0.0.38"))
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# Slurm's own errors that mean "the credential was refused" (slurm_errno.h).
AUTH_ERRNOS = frozenset([1007] + list(range(6000, 6010)))
AUTH_WORDS = re.compile(r"authenticat|credential|token|jwt", re.IGNORECASE)
# slurmctld refuses a larger batch script unless SchedulerParameters raises max_script_size.
MAX_SCRIPT_SIZE = 4 * 1024 * 1024


class RestError(SlurmError):
    """A slurmrestd request failed; ``kind`` is no_token, auth, unreachable, version, http or slurm, or
    input when a parameter was refused before any request."""

    def __init__(self, message, kind="http", status=None, errors=None, url=None):
        super(RestError, self).__init__(message, cmd=url, rc=status,
                                        stderr="\n".join(_describe(e) for e in errors or []) or message)
        self.kind = kind
        self.status = status
        self.errors = errors or []
        self.url = url


def token_claims(token):
    """The payload of a JWT (not verified: only slurmctld holds the key), or None if it is not one."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
        return claims if isinstance(claims, dict) else None
    except Exception:
        return None


def check_token(token, user=None, now=None):
    """(user name, problem or None) from a token's claims: expired tokens fail before any request."""
    if not token:
        return user, "no token: set rest_token (mint one on the head node with hpc.parallelcluster.slurm_token)"
    claims = token_claims(token)
    if claims is None:
        return user, None  # opaque: slurmctld decides
    user = user or claims.get("sun")
    exp = claims.get("exp")
    now = time.time() if now is None else now
    if isinstance(exp, (int, float)) and exp <= now:
        return user, "authentication failed: the token expired at %s UTC; mint a new one" % time.strftime(
            "%Y-%m-%d %H:%M:%S", time.gmtime(exp))
    return user, None


# sbatch values as REST job properties ----------------------------------------------------------

def time_minutes(value):
    """An sbatch --time value in minutes (None for UNLIMITED); ValueError for a bad one."""
    text = str(value).strip()
    if text.upper() in ("UNLIMITED", "INFINITE", "-1"):
        return None
    days = 0
    if "-" in text:
        day_text, text = text.split("-", 1)
        if not day_text.isdigit():
            raise ValueError(value)
        days = int(day_text)
        parts = text.split(":")
        if not all(p.isdigit() for p in parts) or len(parts) > 3:
            raise ValueError(value)
        hours, minutes, seconds = (list(map(int, parts)) + [0, 0])[:3]
    else:
        parts = text.split(":")
        if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
            raise ValueError(value)
        nums = list(map(int, parts))
        if len(nums) == 1:
            hours, minutes, seconds = 0, nums[0], 0
        elif len(nums) == 2:
            hours, minutes, seconds = 0, nums[0], nums[1]
        else:
            hours, minutes, seconds = nums
    total = days * 1440 + hours * 60 + minutes + (1 if seconds else 0)
    return max(total, 1)


def memory_mb(value):
    """An sbatch --mem value (default unit M) in MB."""
    match = re.match(r"^(\d+)([KMGT]?)B?$", str(value).strip(), re.IGNORECASE)
    if not match:
        raise ValueError(value)
    number, unit = int(match.group(1)), match.group(2).upper() or "M"
    return {"K": max(1, number // 1024), "M": number, "G": number * 1024, "T": number * 1024 * 1024}[unit]


def node_counts(value):
    match = re.match(r"^(\d+)(?:-(\d+))?$", str(value).strip())
    if not match:
        raise ValueError(value)
    return [int(match.group(1))] + ([int(match.group(2))] if match.group(2) else [])


# sbatch long option -> (job property, converter)
OPTION_PROPERTIES = {
    "--job-name": ("name", str), "--partition": ("partition", str), "--nodes": ("nodes", node_counts),
    "--ntasks": ("tasks", int), "--ntasks-per-node": ("tasks_per_node", int),
    "--cpus-per-task": ("cpus_per_task", int), "--mem": ("memory_per_node", memory_mb),
    "--time": ("time_limit", time_minutes), "--array": ("array", str), "--dependency": ("dependency", str),
    "--output": ("standard_output", str), "--error": ("standard_error", str),
    "--chdir": ("current_working_directory", str), "--comment": ("comment", str),
    "--constraint": ("constraints", str), "--account": ("account", str), "--qos": ("qos", str),
    "--reservation": ("reservation", str), "--mail-type": ("mail_type", str), "--mail-user": ("mail_user", str),
    "--begin": ("begin_time", str), "--nice": ("nice", int), "--requeue": ("requeue", None),
    "--no-requeue": ("requeue", None), "--exclusive": ("exclusive", None), "--export": (None, None),
}
PROBLEMS = {"--time": "invalid time limit", "--mem": "invalid memory specification",
            "--nodes": "invalid node count specification"}


def job_properties(options, env, cwd, version):
    """The REST job description for sbatch arguments as slurm_job builds them."""
    job = {}
    for arg in options:
        opt, sep, value = arg.partition("=")
        if opt not in OPTION_PROPERTIES:
            raise RestError("sbatch argument %s has no slurmrestd equivalent in this module (unrecognized option "
                            "for backend rest); use backend cli for it" % arg, kind="slurm")
        prop, convert = OPTION_PROPERTIES[opt]
        if prop is None:
            continue
        if opt == "--exclusive":
            job[prop] = "true"
        elif opt in ("--requeue", "--no-requeue"):
            job[prop] = opt == "--requeue"
        else:
            try:
                job[prop] = convert(value)
            except ValueError:
                raise RestError("%s %r: %s" % (opt, value, PROBLEMS.get(opt, "invalid value")), kind="slurm",
                                errors=[{"description": "%s for %s" % (PROBLEMS.get(opt, "invalid value"), opt)}])
            if job[prop] is None:
                del job[prop]
    job.setdefault("current_working_directory", cwd)
    environment = {"PATH": DEFAULT_PATH}
    environment.update(env or {})
    if version in ENV_AS_OBJECT:
        job["environment"] = environment
    else:
        job["environment"] = ["%s=%s" % item for item in sorted(environment.items())]
        for key in ("time_limit", "memory_per_node", "tasks", "tasks_per_node", "cpus_per_task", "nice"):
            if key in job:
                job[key] = {"set": True, "infinite": False, "number": job[key]}
    return job


def _script_refused(path, problem, fix):
    return RestError("invalid parameters, nothing was submitted: script_path %s %s; %s" % (path, problem, fix),
                     kind="input", errors=[{"description": "script_path %s" % problem, "parameter": "script_path"}])


def _script_fix(why):
    if why.startswith("cannot"):
        return "give the path of a readable batch script on the host that runs the task"
    if "symbolic link" in why:
        return ("give the path of the script itself, without symbolic links (backend rest reads it with the "
                "task's rights and submits it as rest_user's job)")
    if why.startswith("is owned by"):
        return ("backend rest reads it with the task's rights and submits it as rest_user's job; make it a file "
                "owned by root or by the account running the task, or pass its content with script")
    return "give a regular file"


def read_script_file(path, cwd=None):
    """The text of the batch script ``path`` (relative to ``cwd``), read on the host that runs the task.

    The module may run as root while rest_user can read the job's script back from Slurm, so the
    file is read as owned_files allows (a regular file of root or of the account running the task,
    reached without a symbolic link) and no larger than slurmctld accepts; the checks sbatch makes
    on a script file come next, so both backends refuse the same files. RestError (kind input)
    names script_path and the fix."""
    full = path if os.path.isabs(path) else os.path.join(cwd or os.getcwd(), path)
    euid = os.geteuid()
    handle, why = open_owned(full, set((0, euid)), "root or the account running the task (uid %d)" % euid,
                             whole_path=True)
    if handle is None:
        raise _script_refused(path, why, _script_fix(why))
    with handle:
        try:
            data = read_at_most(handle, MAX_SCRIPT_SIZE)
        except (IOError, OSError) as exc:
            raise _script_refused(path, "cannot be read (%s)" % (exc.strerror or exc), _script_fix("cannot"))
    if data is None:
        raise _script_refused(path, "is larger than %d bytes, the most slurmctld accepts by default "
                              "(SchedulerParameters max_script_size)" % MAX_SCRIPT_SIZE,
                              "make the script smaller: let it read its data from files")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _script_refused(path, "is not UTF-8 text", "give a text script (slurmrestd takes it as JSON text)")
    if not text.startswith("#!"):
        raise _script_refused(path, "does not look like a batch script", "its first line must start with #! "
                              "followed by the path to an interpreter")
    if "\0" in text:
        raise _script_refused(path, "contains a NUL character", "remove it: Slurm does not allow one in a script")
    if "\r\n" in text:
        raise _script_refused(path, "has DOS line breaks (\\r\\n)", "use Unix line breaks (\\n)")
    return text


def wrap_script(command):
    """The batch script sbatch --wrap writes."""
    return "#!/bin/sh\n# This script was created by sbatch --wrap.\n\n%s\n" % command


# REST job records as CLI rows -------------------------------------------------------------------

def number(value):
    """Unwraps v0.0.39's {"set", "infinite", "number"} objects; plain values pass through."""
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
    """A raw wait(2) status as Slurm's 'code:signal'."""
    if isinstance(status, dict):  # v0.0.39: {"status": [...], "return_code": {...}, "signal": {...}}
        code = number(status.get("return_code")) or 0
        signal = number((status.get("signal") or {}).get("id")) or 0
        return "%d:%d" % (code, signal)
    status = number(status)
    if status is None:
        return None
    status = int(status)
    if status & 0x7F:
        return "0:%d" % (status & 0x7F)
    return "%d:0" % ((status >> 8) & 0xFF)


def _state(value):
    if isinstance(value, list):  # v0.0.39+: a list of flags, the base state first
        return value[0] if value else None
    return value


def _text(value):
    return "" if value is None else str(value)


def _array_task(job):
    task = number(job.get("array_task_id"))
    array_job = number(job.get("array_job_id")) or 0
    if array_job and task is not None:
        return str(array_job), str(task)
    return None, None


def _default_output(job, array_job_id, task_id):
    out = job.get("standard_output") or ""
    if not out:
        out = "slurm-%A_%a.out" if task_id is not None else "slurm-%j.out"
    return out


def _expand(pattern, job, array_job_id, task_id):
    from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_jobs import expand_path

    return expand_path(pattern, job.get("job_id"), task_id, array_job_id, job.get("name"), job.get("user_name"),
                       job.get("current_working_directory"))


def scontrol_record(job, now=None):
    """A v0.0.3x job record in ``scontrol show job --oneliner``'s keys (slurm_jobs reads those)."""
    now = time.time() if now is None else now
    array_job_id, task_id = _array_task(job)
    state = _state(job.get("job_state"))
    start, end = number(job.get("start_time")) or 0, number(job.get("end_time")) or 0
    if state == "PENDING" or not start:
        run = 0
    elif end and end >= start and state not in ("RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED"):
        run = end - start
    else:
        run = now - start
    out = _expand(_default_output(job, array_job_id, task_id), job, array_job_id, task_id)
    err = _expand(job.get("standard_error") or _default_output(job, array_job_id, task_id), job, array_job_id, task_id)
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
    """A dbv0.0.3x job record as an sacct row (ACCOUNTING_FIELDS)."""
    array = job.get("array") or {}
    task = number(array.get("task_id"))
    array_job = number(array.get("job_id")) or 0
    job_id = str(job.get("job_id"))
    shown = "%s_%s" % (array_job, task) if array_job and task is not None else job_id
    exit_code = job.get("exit_code") or {}
    code = number(exit_code.get("return_code")) or 0
    signal = number((exit_code.get("signal") or {}).get("signal_id", (exit_code.get("signal") or {}).get("id"))) or 0
    state = job.get("state") or {}
    nodes = job.get("nodes") or "None assigned"
    comment = job.get("comment") or {}
    return {
        "JobID": shown, "JobIDRaw": job_id, "JobName": _text(job.get("name")),
        "State": _text(_state(state.get("current"))), "ExitCode": "%d:%d" % (code, signal),
        "NodeList": nodes, "NNodes": _text(number(job.get("allocation_nodes"))),
        "Elapsed": duration(number((job.get("time") or {}).get("elapsed"))), "User": _text(job.get("user")),
        "Comment": _text(comment.get("job") if isinstance(comment, dict) else comment),
        "WorkDir": _text(job.get("working_directory")), "Partition": _text(job.get("partition")),
        "Reason": _text(state.get("reason")),
    }


def history_start(spec, now=None):
    """sacct's 'now-30days' as slurmdbd's YYYY-MM-DDTHH:MM:SS; other values pass through."""
    match = re.match(r"^now-(\d+)days$", spec or "")
    if not match:
        return spec
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now - int(match.group(1)) * 86400))


class SlurmREST:
    """slurmrestd behind SlurmCLI's methods. ``opener`` has open_url's signature (tests pass a fake)."""

    def __init__(self, url, token, user=None, timeout=30, validate_certs=True, opener=open_url, version=None):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.opener = opener
        self.user, problem = check_token(token, user)
        if problem:
            raise RestError(problem, kind="no_token" if not token else "auth", url=self.url)
        if not self.user:
            raise RestError("rest_user is required: the token carries no user name", kind="no_token", url=self.url)
        self._version = version
        self.offered = []

    # HTTP -----------------------------------------------------------------------------------

    def request(self, method, path, body=None, query=None):
        url = self.url + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "application/json", "X-SLURM-USER-NAME": self.user, "X-SLURM-USER-TOKEN": self.token}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            response = self.opener(url, data=data, headers=headers, method=method, timeout=self.timeout,
                                   validate_certs=self.validate_certs, follow_redirects="none")
            status, text = response.getcode(), response.read()
        except HTTPError as exc:
            status = exc.code
            try:
                text = exc.read()
            except Exception:
                text = b""
        except (URLError, socket.timeout, socket.error, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RestError("slurmrestd endpoint unreachable: %s (%s)" % (self.url, reason), kind="unreachable",
                            url=self.url)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        try:
            payload = json.loads(text) if text.strip() else {}
        except ValueError:
            payload = {"_text": text.strip()}
        if not isinstance(payload, dict):
            payload = {"_value": payload}
        return status, payload

    def call(self, method, path, body=None, query=None, missing_ok=False):
        """JSON of a successful call; RestError naming the cause otherwise."""
        status, payload = self.request(method, path, body, query)
        errors = [e for e in payload.get("errors") or [] if isinstance(e, dict)]
        text = "; ".join(_describe(e) for e in errors) or payload.get("_text") or ""
        if status == 401:
            raise RestError("slurmrestd at %s refused the request: no valid token (HTTP 401 %s); set rest_token"
                            % (self.url, text or "Authentication failure"), kind="no_token", status=status, url=self.url)
        if status in (403,) or (status >= 500 and _is_auth(errors, text)):
            raise RestError("authentication failed (bad or expired token) for user %s at %s: HTTP %s %s"
                            % (self.user, self.url, status, text), kind="auth", status=status, errors=errors, url=self.url)
        if missing_ok and errors and any(_is_missing(e) for e in errors):
            return None
        if status >= 400 or errors:
            raise RestError("slurmrestd %s %s answered HTTP %s: %s" % (method, path, status, text or "no details"),
                            kind="slurm" if errors else "http", status=status, errors=errors, url=self.url)
        return payload

    # version ----------------------------------------------------------------------------------

    @property
    def version(self):
        if self._version is None:
            self._version = self.negotiate()
        return self._version

    def negotiate(self):
        status, payload = self.request("GET", "/openapi/v3")
        if status == 401:
            self.call("GET", "/openapi/v3")  # raises the no-token error
        offered = set()
        for path in (payload.get("paths") or {}):
            match = re.match(r"^/slurm/v(\d+\.\d+\.\d+)/", path)
            if match:
                offered.add(match.group(1))
        if status != 200 or not offered:
            # Older servers without the document: ask each known version's ping.
            for version in KNOWN_VERSIONS:
                st, _payload = self.request("GET", "/slurm/v%s/ping" % version)
                if st != 404:
                    offered.add(version)
        self.offered = sorted(offered, key=_version_key, reverse=True)
        for version in KNOWN_VERSIONS:
            if version in offered:
                self._version = version
                self.ping()
                return version
        raise RestError("slurmrestd at %s offers API %s; this module knows v%s-v%s"
                        % (self.url, ", ".join("v" + v for v in self.offered) or "no version",
                           KNOWN_VERSIONS[-1], KNOWN_VERSIONS[0]), kind="version", url=self.url)

    def ping(self):
        """The first call that needs slurmctld: a bad token is reported here (500 on 22.05)."""
        status, payload = self.request("GET", "/slurm/v%s/ping" % self._version)
        errors = [e for e in payload.get("errors") or [] if isinstance(e, dict)]
        if status == 401:
            self.call("GET", "/slurm/v%s/ping" % self._version)
        if status >= 500 or errors:
            text = "; ".join(_describe(e) for e in errors) or payload.get("_text") or ""
            raise RestError("authentication failed (bad or expired token) for user %s at %s: slurmrestd could not "
                            "reach slurmctld with it (HTTP %s %s)" % (self.user, self.url, status, text),
                            kind="auth", status=status, errors=errors, url=self.url)
        return payload

    def _p(self, path):
        return "/slurm/v%s%s" % (self.version, path)

    def _db(self, path):
        return "/slurmdb/v%s%s" % (self.version, path)

    # SlurmCLI's interface ----------------------------------------------------------------------

    def submit(self, options, script=None, script_path=None, wrap=None, env=None, cwd=None, test_only=False):
        if sum(x is not None for x in (script, script_path, wrap)) != 1:
            raise ValueError("exactly one of script, script_path, wrap")
        if test_only:
            raise RestError("slurmrestd has no --test-only", kind="slurm")
        if wrap is not None:
            script = wrap_script(wrap)
        elif script_path is not None:
            script = read_script_file(script_path, cwd)
        body = {"script": script, "job": job_properties(options, env, cwd, self.version)}
        payload = self.call("POST", self._p("/job/submit"), body=body)
        job_id = number(payload.get("job_id"))
        if job_id is None:
            raise RestError("slurmrestd returned no job id: %s" % payload, kind="slurm")
        return str(job_id)

    def show_job(self, job_id):
        payload = self.call("GET", self._p("/job/%s" % quote(str(job_id), safe="")), missing_ok=True)
        if payload is None:
            return []
        jobs = payload.get("jobs") or []
        records = []
        for job in jobs:
            array_job = number(job.get("array_job_id")) or 0
            spec = job.get("array_task_string")
            if array_job and spec and _state(job.get("job_state")) == "PENDING":
                for task in expand_indexes(spec):
                    rec = scontrol_record(dict(job, array_task_id=int(task)))
                    records.append(rec)
            else:
                records.append(scontrol_record(job))
        return records

    def queue(self, job_ids=None, user=None, states="all"):
        payload = self.call("GET", self._p("/jobs"))
        wanted = set(str(j) for j in job_ids or [])
        rows = []
        for job in payload.get("jobs") or []:
            if user and job.get("user_name") != user:
                continue
            array_job = str(number(job.get("array_job_id")) or "")
            if wanted and str(job.get("job_id")) not in wanted and array_job not in wanted:
                continue
            spec = job.get("array_task_string")
            if array_job and array_job != "0" and spec and _state(job.get("job_state")) == "PENDING":
                rows += [queue_row(job, array_job, task) for task in expand_indexes(spec)]
            else:
                rows.append(queue_row(job))
        return rows

    def accounting(self, job_ids=None, user=None, all_users=False, starttime=None, fields=None):
        if job_ids and len(job_ids) == 1:
            payload = self.call("GET", self._db("/job/%s" % quote(str(job_ids[0]), safe="")), missing_ok=True) or {}
        else:
            # Slurm 22.05's slurmdb jobs query knows no user filter: the rows are filtered below.
            query = {"start_time": history_start(starttime)} if starttime else None
            payload = self.call("GET", self._db("/jobs"), query=query, missing_ok=True) or {}
        rows = [sacct_row(job) for job in payload.get("jobs") or []]
        if job_ids:
            wanted = set(str(j) for j in job_ids)
            rows = [r for r in rows if r["JobIDRaw"] in wanted or r["JobID"].split("_")[0] in wanted]
        if user:
            rows = [r for r in rows if r["User"] == user]
        return rows

    def cancel(self, job_ids=None, name=None, user=None):
        if not job_ids and not name:
            raise ValueError("job_ids or name")
        ids = list(job_ids or [])
        if name:
            ids += [r["job_id"].split("_")[0] for r in self.queue(user=user) if r["name"] == name]
        for job_id in ids:
            self.call("DELETE", self._p("/job/%s" % quote(str(job_id), safe="")))


def _describe(error):
    """'description (error)' of one entry of a v0.0.3x ``errors`` list."""
    parts = [error.get("description"), error.get("error")]
    parts = [p for i, p in enumerate(parts) if p and p not in parts[:i]]
    if not parts:
        return json.dumps(error, sort_keys=True)
    return parts[0] + (" (%s)" % parts[1] if len(parts) > 1 else "")


def _is_auth(errors, text):
    if any(e.get("error_number") in AUTH_ERRNOS for e in errors):
        return True
    return bool(AUTH_WORDS.search(text or ""))


def _is_missing(error):
    text = "%s %s" % (error.get("description") or "", error.get("error") or "")
    # 2017: slurmctld knows no such job; 9003: slurmdbd's "Nothing found" (HTTP 200) for a query.
    return error.get("error_number") in (2017, 9003) or "Invalid job id" in text


def _version_key(version):
    return tuple(int(p) for p in version.split("."))
