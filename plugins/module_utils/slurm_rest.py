# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small slurmrestd client with the SlurmCLI interface.

``SlurmREST`` has the methods of ``slurm_cli.SlurmCLI`` that slurm_job uses (submit, queue,
show_job, accounting, cancel) and returns the same row shapes (squeue rows, ``scontrol show job``
records, sacct rows), so ``slurm_jobs.JobFinder`` and slurm_job work unchanged on top of it and
report the same fields with either backend.

The API version is negotiated from the server's ``/openapi/v3`` document: the newest version it
offers among KNOWN_VERSIONS (v0.0.36 of Slurm 21.08 to v0.0.45 of Slurm 26.05). How each version
spells a job and its records is in slurm_rest_shapes; this file turns sbatch options into job
properties and talks HTTP.
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
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import AccountingDisabled, SlurmError
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_rest_shapes import (
    KNOWN_VERSIONS,
    data_parser_era,
    history_start,
    mail_flags,
    number,
    pending_tasks,
    queue_row,
    sacct_row,
    scontrol_record,
    shape_job,
    submit_body,
    version_key,
)

# Slurm's own errors that mean "the credential was refused" (slurm_errno.h).
AUTH_ERRNOS = frozenset([1007] + list(range(6000, 6010)))
AUTH_WORDS = re.compile(r"authenticat|credential|token|jwt", re.IGNORECASE)
# ESLURM_ALREADY_DONE: a cancel that found the job already ended.
ALREADY_DONE = 2021
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
    amount, unit = int(match.group(1)), match.group(2).upper() or "M"
    return {"K": max(1, amount // 1024), "M": amount, "G": amount * 1024, "T": amount * 1024 * 1024}[unit]


def node_counts(value):
    match = re.match(r"^(\d+)(?:-(\d+))?$", str(value).strip())
    if not match:
        raise ValueError(value)
    return [int(match.group(1))] + ([int(match.group(2))] if match.group(2) else [])


def mail_type(value):
    """An sbatch --mail-type value, checked; each API version spells it (see shape_job)."""
    mail_flags(value)
    return str(value)


# sbatch long option -> (job property, converter)
OPTION_PROPERTIES = {
    "--job-name": ("name", str), "--partition": ("partition", str), "--nodes": ("nodes", node_counts),
    "--ntasks": ("tasks", int), "--ntasks-per-node": ("tasks_per_node", int),
    "--cpus-per-task": ("cpus_per_task", int), "--mem": ("memory_per_node", memory_mb),
    "--time": ("time_limit", time_minutes), "--array": ("array", str), "--dependency": ("dependency", str),
    "--output": ("standard_output", str), "--error": ("standard_error", str),
    "--chdir": ("current_working_directory", str), "--comment": ("comment", str),
    "--constraint": ("constraints", str), "--account": ("account", str), "--qos": ("qos", str),
    "--reservation": ("reservation", str), "--mail-type": ("mail_type", mail_type), "--mail-user": ("mail_user", str),
    "--begin": ("begin_time", str), "--nice": ("nice", int), "--requeue": ("requeue", None),
    "--no-requeue": ("requeue", None), "--exclusive": ("exclusive", str), "--export": (None, None),
}
PROBLEMS = {"--time": "invalid time limit", "--mem": "invalid memory specification",
            "--nodes": "invalid node count specification", "--mail-type": "invalid mail type"}


def _refused(opt, value, problem):
    return RestError("%s %r: %s" % (opt, value, problem), kind="slurm",
                     errors=[{"description": "%s for %s" % (problem, opt)}])


def job_properties(options, env, cwd, version):
    """The REST job description of API ``version`` for sbatch arguments as slurm_job builds them."""
    props = {}
    for arg in options:
        opt, _sep, value = arg.partition("=")
        if opt not in OPTION_PROPERTIES:
            raise RestError("sbatch argument %s has no slurmrestd equivalent in this module (unrecognized option "
                            "for backend rest); use backend cli for it" % arg, kind="slurm")
        prop, convert = OPTION_PROPERTIES[opt]
        if prop is None:
            continue
        if opt in ("--requeue", "--no-requeue"):
            props[prop] = opt == "--requeue"
            continue
        try:
            props[prop] = convert(value)
        except ValueError:
            raise _refused(opt, value, PROBLEMS.get(opt, "invalid value"))
        if props[prop] is None:
            del props[prop]
    props.setdefault("current_working_directory", cwd)
    try:
        return shape_job(props, env, version)
    except ValueError:
        raise _refused("--begin", props.get("begin_time"), "slurmrestd API v%s takes only a UNIX time (seconds "
                       "since 1970) as begin time; give one, or use backend cli" % version)


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
        # API versions whose slurmdbd paths (/slurmdb/v.../) the server's OpenAPI document lists.
        self.offered_db = None
        self._accounting = None

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
        """The newest of KNOWN_VERSIONS the server's OpenAPI document offers; RestError (kind
        version) naming what it offers and what this module knows when there is none."""
        status, payload = self.request("GET", "/openapi/v3")
        if status == 401:
            self.call("GET", "/openapi/v3")  # raises the no-token error
        offered = set()
        offered_db = set()
        for path in (payload.get("paths") or {}):
            match = re.match(r"^/slurm(db)?/v(\d+\.\d+\.\d+)/", path)
            if match:
                (offered_db if match.group(1) else offered).add(match.group(2))
        if status == 200 and offered:
            self.offered_db = offered_db
        if status != 200 or not offered:
            # Older servers without the document: ask each known version's ping.
            for version in KNOWN_VERSIONS:
                st, _payload = self.request("GET", "/slurm/v%s/ping" % version)
                if st != 404:
                    offered.add(version)
        self.offered = sorted(offered, key=version_key, reverse=True)
        for version in KNOWN_VERSIONS:
            if version in offered:
                self._version = version
                self.ping()
                return version
        raise RestError("slurmrestd at %s offers API %s; this module knows %s: use backend cli, or a release of "
                        "hpc.parallelcluster that knows one of the offered versions"
                        % (self.url, ", ".join("v" + v for v in self.offered) or "no version",
                           ", ".join("v" + v for v in sorted(KNOWN_VERSIONS, key=version_key))),
                        kind="version", url=self.url)

    def ping(self):
        """The first call that needs slurmctld, so a bad token is reported here: Slurm 22.05 answers
        HTTP 500, later releases HTTP 200 with the controller DOWN (not responding)."""
        path = self._p("/ping/" if data_parser_era(self._version) else "/ping")
        status, payload = self.request("GET", path)
        errors = [e for e in payload.get("errors") or [] if isinstance(e, dict)]
        if status == 401:
            self.call("GET", path)
        pings = [p for p in payload.get("pings") or [] if isinstance(p, dict)]
        down = [p for p in pings if not _answered(p)]
        if status >= 500 or errors or (pings and len(down) == len(pings)):
            text = "; ".join(_describe(e) for e in errors) or payload.get("_text") or ""
            if not text and down:
                text = "ping %s" % ", ".join("%s %s" % (p.get("hostname"), p.get("status") or p.get("pinged") or "DOWN")
                                             for p in down)
            raise RestError("authentication failed (bad or expired token) for user %s at %s: slurmrestd could not "
                            "reach slurmctld with it (HTTP %s %s); if the token is valid, check that slurmctld is up"
                            % (self.user, self.url, status, text), kind="auth", status=status, errors=errors,
                            url=self.url)
        return payload

    def has_accounting(self):
        """Whether accounting can be asked through this slurmrestd: its OpenAPI document lists the
        slurmdbd paths of the version in use. A cluster without slurmdbd runs slurmrestd with the
        slurmctld plugin only (the slurmdbd one refuses to start there), so they are absent. A
        server without the document is asked once: HTTP 404 on the version's slurmdbd diag path."""
        if self._accounting is None:
            version = self.version
            if self.offered_db is not None:
                self._accounting = version in self.offered_db
            else:
                status, _payload = self.request("GET", "/slurmdb/v%s/diag" % version)
                self._accounting = status != 404
        return self._accounting

    def cluster_id(self):
        """What tells this cluster from another one to a record kept on the host (the endpoint)."""
        return "rest:%s" % self.url

    @staticmethod
    def min_job_age():
        """slurmctld's MinJobAge: not in the REST API this module uses."""
        return None

    def _p(self, path):
        return "/slurm/v%s%s" % (self.version, path)

    def _db(self, path):
        return "/slurmdb/v%s%s" % (self.version, path)

    def _list(self, path):
        """A collection's path as the version's document spells it (v0.0.40+ end in a slash)."""
        return path + "/" if data_parser_era(self.version) else path

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
        job = job_properties(options, env, cwd, self.version)
        payload = self.call("POST", self._p("/job/submit"), body=submit_body(script, job, self.version))
        job_id = number(payload.get("job_id"))
        if job_id is None:
            raise RestError("slurmrestd returned no job id: %s" % payload, kind="slurm")
        return str(job_id)

    def show_job(self, job_id):
        payload = self.call("GET", self._p("/job/%s" % quote(str(job_id), safe="")), missing_ok=True)
        if payload is None:
            return []
        records = []
        for job in payload.get("jobs") or []:
            tasks = pending_tasks(job)
            if tasks:
                records += [scontrol_record(dict(job, array_task_id=int(task))) for task in tasks]
            else:
                records.append(scontrol_record(job))
        return records

    def queue(self, job_ids=None, user=None, states="all"):
        payload = self.call("GET", self._p(self._list("/jobs")))
        wanted = set(str(j) for j in job_ids or [])
        rows = []
        for job in payload.get("jobs") or []:
            if user and job.get("user_name") != user:
                continue
            array_job = str(number(job.get("array_job_id")) or "")
            if wanted and str(job.get("job_id")) not in wanted and array_job not in wanted:
                continue
            tasks = pending_tasks(job)
            if tasks:
                rows += [queue_row(job, array_job, task) for task in tasks]
            else:
                rows.append(queue_row(job))
        return rows

    def accounting(self, job_ids=None, user=None, all_users=False, starttime=None, fields=None):
        if not self.has_accounting():
            raise AccountingDisabled("slurmrestd at %s serves no slurmdbd API (the cluster keeps no accounting)"
                                     % self.url, cmd=self.url)
        if job_ids and len(job_ids) == 1:
            payload = self.call("GET", self._db("/job/%s" % quote(str(job_ids[0]), safe="")), missing_ok=True) or {}
        else:
            query = {"start_time": history_start(starttime)} if starttime else {}
            if user and data_parser_era(self.version):
                # Slurm 22.05's slurmdb jobs query knows no user filter: its rows are filtered below.
                query["users"] = user
            payload = self.call("GET", self._db(self._list("/jobs")), query=query or None, missing_ok=True) or {}
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
            path = self._p("/job/%s" % quote(str(job_id), safe=""))
            payload = self.call("DELETE", path)
            # v0.0.42+ answer HTTP 200 and list per-job failures under "status"; a job that ended
            # meanwhile (2021, "already completing or completed") is what scancel also ignores.
            failed = [e.get("error") for e in payload.get("status") or []
                      if isinstance(e, dict) and isinstance(e.get("error"), dict)
                      and e["error"].get("code") not in (0, None, ALREADY_DONE)]
            if failed:
                errors = [{"description": e.get("message") or e.get("string"), "error_number": e.get("code")}
                          for e in failed]
                raise RestError("slurmrestd DELETE %s did not cancel job %s: %s"
                                % (path, job_id, "; ".join(_describe(e) for e in errors)), kind="slurm",
                                status=200, errors=errors, url=self.url)


def _answered(ping):
    """Whether one entry of a ping answer says slurmctld answered (v0.0.38 'ping', v0.0.40+
    'pinged', v0.0.42+ 'responding')."""
    if "responding" in ping:
        return ping["responding"] is True
    return (ping.get("pinged") or ping.get("ping")) == "UP"


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
