# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running the Slurm client commands (sbatch, squeue, scontrol, sacct, scancel) as argument lists.

Every command goes through a ``run_command``-shaped callable (``AnsibleModule.run_command`` in
modules, a fake in tests), never through a shell, with ``SLURM_CONF`` in its environment. Output is
requested in machine-readable forms and parsed here, so the modules only see dictionaries.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import re
import shutil
import tempfile

DEFAULT_SLURM_CONF = "/opt/slurm/etc/slurm.conf"

# A field separator no job name, comment or path will contain (ASCII unit separator): sacct's
# '|' and squeue's free-form format both break on user strings otherwise.
SEP = "\x1f"

# squeue --format codes, in the order of QUEUE_FIELDS.
QUEUE_FORMAT = (("job_id", "%i"), ("array_job_id", "%F"), ("array_task_id", "%K"), ("name", "%j"),
                ("state", "%T"), ("user", "%u"), ("comment", "%k"), ("reason", "%r"),
                ("node_count", "%D"), ("nodes", "%N"), ("elapsed", "%M"), ("work_dir", "%Z"),
                ("partition", "%P"))
QUEUE_FIELDS = tuple(name for name, _code in QUEUE_FORMAT)

ACCOUNTING_FIELDS = ("JobID", "JobIDRaw", "JobName", "State", "ExitCode", "NodeList", "NNodes",
                     "Elapsed", "User", "Comment", "WorkDir", "Partition", "Reason")

# States after which a job never runs again.
TERMINAL_STATES = frozenset(("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                             "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"))

# Keys of `scontrol show job --oneliner` in Slurm 22.05. Values (job names, paths, comments) may
# contain spaces and '=', so a line is only split in front of a key Slurm really prints.
SCONTROL_JOB_KEYS = frozenset((
    "JobId", "ArrayJobId", "ArrayTaskId", "ArrayTaskThrottle", "JobName", "UserId", "GroupId",
    "MCS_label", "Priority", "Nice", "Account", "QOS", "JobState", "Reason", "Dependency", "Requeue",
    "Restarts", "BatchFlag", "Reboot", "ExitCode", "DerivedExitCode", "RunTime", "TimeLimit", "TimeMin",
    "SubmitTime", "EligibleTime", "AccrueTime", "StartTime", "EndTime", "Deadline", "SuspendTime",
    "SecsPreSuspend", "LastSchedEval", "Scheduler", "Partition", "AllocNode:Sid", "ReqNodeList",
    "ExcNodeList", "NodeList", "BatchHost", "NumNodes", "NumCPUs", "NumTasks", "CPUs/Task",
    "ReqB:S:C:T", "TRES", "Socks/Node", "NtasksPerN:B:S:C", "CoreSpec", "MinCPUsNode", "MinMemoryNode",
    "MinMemoryCPU", "MinTmpDiskNode", "Features", "DelayBoot", "OverSubscribe", "Contiguous", "Licenses",
    "Network", "Command", "WorkDir", "Comment", "AdminComment", "SystemComment", "StdErr", "StdIn",
    "StdOut", "Power", "MailUser", "MailType", "Reservation", "TresPerNode", "TresPerTask",
    "CpusPerTres", "MemPerTres", "TresBind", "TresFreq", "NtasksPerTRES", "Container", "HetJobId",
    "HetJobOffset", "HetJobIdSet", "BurstBuffer", "BurstBufferState", "CPU_Spec", "ClusterFeatures",
    "Partitions", "Prefer", "Nodes", "CPU_IDs", "Mem", "GRES", "KillOInInvalidDependent",
))
_SCONTROL_SPLIT = re.compile(r" (?=([A-Za-z][A-Za-z0-9_:/]*)=)")


# AccountingStorageType of a cluster without slurmdbd (slurm.conf's default).
NO_ACCOUNTING = "accounting_storage/none"
# What sacct prints (rc 1) on such a cluster, in 22.05 and 24.11 alike.
SACCT_DISABLED = "accounting storage is disabled"
# Why a module that reads or keeps slurmdbd's data cannot run on such a cluster, and the fix.
ACCOUNTING_REQUIRED = ("this cluster keeps no Slurm accounting (AccountingStorageType is %s), where accounts, users, "
                       "QOS and finished jobs are kept; give it a database (Scheduling.SlurmSettings.Database in the "
                       "cluster config, made by the accounting_database role) and run again")


class SlurmError(Exception):
    """A Slurm command failed; carries the command, its exit status and Slurm's own stderr."""

    def __init__(self, message, cmd=None, rc=None, stdout="", stderr=""):
        super(SlurmError, self).__init__(message)
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def slurm_message(self):
        """Slurm's error lines without the 'sbatch: error: ' prefixes."""
        lines = []
        for line in (self.stderr or "").splitlines():
            line = re.sub(r"^\w+: (error: )?", "", line.strip())
            if line:
                lines.append(line)
        return " ".join(lines) or (self.stdout or "").strip()


class AccountingDisabled(SlurmError):
    """The cluster keeps no accounting (no slurmdbd): sacct or slurmdbd's REST API cannot answer."""


def parse_config(stdout):
    """``scontrol show config`` as a dict: one ``Key = value`` per line (the header line and the
    plugin sections' lines without " = " are skipped)."""
    config = {}
    for line in (stdout or "").split("\n"):
        key, sep, value = line.partition(" = ")
        if sep and key.strip() and " " not in key.strip():
            config.setdefault(key.strip(), value.strip())
    return config


def accounting_in(config):
    """Whether a cluster with this ``scontrol show config`` keeps accounting (a storage other than none)."""
    storage = (config.get("AccountingStorageType") or "").strip()
    return bool(storage) and storage != NO_ACCOUNTING and storage != "(null)"


def parse_submit(stdout):
    """Job id from ``sbatch --parsable`` (``<id>`` or ``<id>;<cluster>``)."""
    first = (stdout or "").strip().splitlines()
    if not first:
        raise SlurmError("sbatch printed no job id", stdout=stdout)
    job_id = first[-1].split(";", 1)[0].strip()
    if not job_id.isdigit():
        raise SlurmError("unexpected sbatch output: %r" % stdout, stdout=stdout)
    return job_id


def output_lines(stdout, continues=None):
    """Lines of Slurm's output, split at newlines only (str.splitlines() also breaks at characters a
    job name may hold); a line for which ``continues(next_line, line_so_far)`` is true is joined to
    the one before it, as a value with a newline in it (a job name set with sbatch directly)."""
    lines = []
    for line in (stdout or "").split("\n"):
        if lines and continues and continues(line, lines[-1]):
            lines[-1] += "\n" + line
        else:
            lines.append(line)
    return [line for line in lines if line.strip()]


def parse_delimited(stdout, fields, sep=SEP):
    """Rows of SEP-separated values (squeue/sacct output) as dicts keyed by ``fields``."""
    rows = []
    for line in output_lines(stdout, lambda _line, before: before.strip() and before.count(sep) < len(fields) - 1):
        values = line.split(sep)
        if len(values) != len(fields):
            raise SlurmError("unexpected line (%d fields, wanted %d): %r" % (len(values), len(fields), line))
        rows.append(dict(zip(fields, values)))
    return rows


def parse_oneliner(line):
    """One ``scontrol show job --oneliner`` line as a dict; values may contain spaces."""
    record = {}
    parts = []
    start = 0
    for match in _SCONTROL_SPLIT.finditer(line):
        if match.group(1) in SCONTROL_JOB_KEYS:
            parts.append(line[start:match.start()])
            start = match.end()
    parts.append(line[start:])
    for part in parts:
        if "=" not in part:
            continue
        key, value = part.split("=", 1)
        record[key.strip()] = value.rstrip()
    return record


def state_word(state):
    """'CANCELLED by 1001' -> 'CANCELLED'; 'COMPLETED' stays."""
    return (state or "").split(" ", 1)[0].rstrip("+")


def null(value):
    """Slurm's placeholders for 'nothing' as None."""
    if value in (None, "", "(null)", "N/A", "None assigned", "Unknown"):
        return None
    return value


@contextlib.contextmanager
def bare_environment():
    """Empties os.environ for the duration: run_command starts every command from os.environ, and
    sbatch must run with only what the module passes it."""
    saved = dict(os.environ)
    os.environ.clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def export_file_content(job_env, base=None):
    """sbatch's --export-file content: NUL-separated NAME=value entries, the submitting
    environment (``base``, os.environ's by default) with ``job_env`` on top."""
    entries = dict(os.environb if base is None else
                   ((k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape")) for k, v in base.items()))
    for name, value in (job_env or {}).items():
        entries[name.encode("utf-8", "surrogateescape")] = value.encode("utf-8", "surrogateescape")
    return b"".join(name + b"=" + value + b"\0" for name, value in sorted(entries.items()))


class SlurmCLI:
    """The Slurm client commands as methods; ``run_command`` has AnsibleModule.run_command's signature."""

    def __init__(self, run_command, slurm_conf=None, bin_dir=None):
        self._run_command = run_command
        self.slurm_conf = slurm_conf or os.environ.get("SLURM_CONF") or DEFAULT_SLURM_CONF
        self.bin_dir = bin_dir
        self._config = None

    def _bin(self, name):
        return os.path.join(self.bin_dir, name) if self.bin_dir else name

    def run(self, args, data=None, env=None, cwd=None, check=True, bare=False):
        """Run one command; raise SlurmError with Slurm's stderr when it fails and ``check`` is set.

        With ``bare`` the command gets SLURM_CONF and ``env`` only, not the module's environment."""
        environ = {"SLURM_CONF": self.slurm_conf}
        environ.update(env or {})
        cmd = [self._bin(args[0])] + list(args[1:])
        kwargs = dict(check_rc=False, environ_update=environ, expand_user_and_vars=False)
        if data is not None:
            kwargs.update(data=data, binary_data=True)
        if cwd:
            kwargs["cwd"] = cwd
        if bare:
            # Found on the module's PATH, since the command's own environment has none.
            cmd[0] = shutil.which(cmd[0]) or cmd[0]
            with bare_environment():
                rc, out, err = self._run_command(cmd, **kwargs)
        else:
            rc, out, err = self._run_command(cmd, **kwargs)
        if check and rc != 0:
            raise SlurmError("%s failed (rc=%s): %s" % (args[0], rc, (err or out).strip()),
                             cmd=cmd, rc=rc, stdout=out, stderr=err)
        return rc, out, err

    # sbatch -----------------------------------------------------------------------------------

    def submit(self, options, script=None, script_path=None, wrap=None, env=None, cwd=None, test_only=False):
        """Submit with sbatch; returns the job id (or sbatch's message with ``test_only``).

        The job gets the module's environment with ``env`` on top, handed over in a private
        --export-file; sbatch itself runs with SLURM_CONF only, so no variable changes what it
        loads, reads or submits. ``script_path`` follows ``--``: it is never read as an option."""
        if sum(x is not None for x in (script, script_path, wrap)) != 1:
            raise ValueError("exactly one of script, script_path, wrap")
        handle, env_file = tempfile.mkstemp(prefix="hpc-job-env-")
        try:
            with os.fdopen(handle, "wb") as out_file:
                out_file.write(export_file_content(env))
            args = ["sbatch", "--parsable", "--export-file=" + env_file]
            args += (["--test-only"] if test_only else []) + list(options)
            data = None
            if wrap is not None:
                args.append("--wrap=" + wrap)
            elif script_path is not None:
                args += ["--", script_path]
            else:
                data = script
            _rc, out, err = self.run(args, data=data, cwd=cwd, bare=True)
        finally:
            os.remove(env_file)
        if test_only:
            return (err or out).strip()
        return parse_submit(out)

    # squeue / scontrol -----------------------------------------------------------------------

    def queue(self, job_ids=None, user=None, states="all"):
        """Jobs the controller knows (including recently finished ones), one row per array task."""
        fmt = SEP.join(code for _name, code in QUEUE_FORMAT)
        args = ["squeue", "--noheader", "--array", "--format=" + fmt]
        if states:
            args.append("--states=" + states)
        if user:
            args.append("--user=" + user)
        if job_ids:
            args.append("--jobs=" + ",".join(str(j) for j in job_ids))
        rc, out, err = self.run(args, check=False)
        if rc != 0:
            if job_ids and "Invalid job id" in err:
                return []
            raise SlurmError("squeue failed (rc=%s): %s" % (rc, err.strip()), cmd=args, rc=rc, stdout=out, stderr=err)
        return parse_delimited(out, QUEUE_FIELDS)

    def show_job(self, job_id):
        """``scontrol show job`` records (one per array task); [] once the controller forgot it."""
        rc, out, err = self.run(["scontrol", "show", "job", "--oneliner", str(job_id)], check=False)
        if rc != 0:
            if "Invalid job id" in err:
                return []
            raise SlurmError("scontrol failed (rc=%s): %s" % (rc, err.strip()), rc=rc, stdout=out, stderr=err)
        lines = output_lines(out, lambda line, _before: not line.startswith("JobId="))
        return [parse_oneliner(line) for line in lines]

    def config(self):
        """slurmctld's running configuration (``scontrol show config``, LC_ALL=C), read once."""
        if self._config is None:
            _rc, out, _err = self.run(["scontrol", "show", "config"], env={"LC_ALL": "C"})
            self._config = parse_config(out)
            if "AccountingStorageType" not in self._config:
                raise SlurmError("scontrol show config printed no AccountingStorageType: %r" % out[:200],
                                 stdout=out)
        return self._config

    def has_accounting(self):
        """Whether the cluster keeps accounting (slurmctld's AccountingStorageType is not none)."""
        return accounting_in(self.config())

    def cluster_id(self):
        """What tells this cluster from another one to a record kept on the host (ClusterName)."""
        return "cli:%s" % self.config().get("ClusterName", "")

    def min_job_age(self):
        """slurmctld's MinJobAge as printed ('300 sec'), or None when unknown."""
        return self.config().get("MinJobAge")

    # sacct -------------------------------------------------------------------------------------

    def accounting(self, job_ids=None, user=None, all_users=False, starttime=None, fields=ACCOUNTING_FIELDS):
        """Allocation rows (no steps) from the accounting database."""
        args = ["sacct", "--noheader", "--parsable2", "--delimiter=" + SEP, "--allocations",
                "--format=" + ",".join(fields)]
        if job_ids:
            args.append("--jobs=" + ",".join(str(j) for j in job_ids))
        if user:
            args.append("--user=" + user)
        elif all_users:
            args.append("--allusers")
        if starttime:
            args.append("--starttime=" + starttime)
        rc, out, err = self.run(args, check=False)
        if rc != 0:
            cls = AccountingDisabled if SACCT_DISABLED in (err or "").lower() else SlurmError
            raise cls("sacct failed (rc=%s): %s" % (rc, (err or out).strip()), cmd=args, rc=rc, stdout=out, stderr=err)
        return parse_delimited(out, fields)

    # scancel -----------------------------------------------------------------------------------

    def cancel(self, job_ids=None, name=None, user=None):
        """scancel by ids, or by exact name (restricted to ``user`` when given)."""
        if not job_ids and not name:
            raise ValueError("job_ids or name")
        args = ["scancel"]
        if name:
            args.append("--name=" + name)
        if user:
            args.append("--user=" + user)
        args += [str(j) for j in job_ids or []]
        self.run(args)
