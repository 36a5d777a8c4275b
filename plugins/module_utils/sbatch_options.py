# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""slurm_job's structured parameters as sbatch arguments, and sbatch's refusals mapped back to
the parameter that caused them, so a failed submission names what to fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from urllib.parse import quote, unquote
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote, unquote

COMMENT_PREFIX = "hpc.parallelcluster:idempotency_key="

# (module parameter, sbatch long option); every value is passed as one `--opt=value` argument,
# so a value starting with '-' or holding spaces is never read as another option.
VALUE_OPTIONS = (
    ("name", "--job-name"), ("partition", "--partition"), ("nodes", "--nodes"), ("ntasks", "--ntasks"),
    ("ntasks_per_node", "--ntasks-per-node"), ("cpus_per_task", "--cpus-per-task"), ("mem", "--mem"),
    ("time", "--time"), ("array", "--array"), ("dependency", "--dependency"), ("output", "--output"),
    ("error", "--error"), ("chdir", "--chdir"),
)

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Node/CPU shape parameters: any of them can make "Requested node configuration is not available", or
# with EnforcePartLimits=ALL (ParallelCluster's) "More processors requested than permitted".
SHAPE_PARAMS = ("nodes", "ntasks", "ntasks_per_node", "cpus_per_task", "mem", "exclusive")

# (regex on sbatch's stderr, parameters it points at). First match wins.
ERROR_PARAMS = (
    (r"invalid partition", ("partition",)),
    (r"--time|time limit", ("time",)),
    (r"job array", ("array",)),
    (r"dependency", ("dependency",)),
    (r"--mem\b|memory specification", ("mem",)),
    (r"for --ntasks-per-node", ("ntasks_per_node",)),
    (r"for --ntasks\b", ("ntasks",)),
    (r"for --cpus-per-task", ("cpus_per_task",)),
    (r"node count", ("nodes",)),
    (r"--exclusive", ("exclusive",)),
    (r"CPU count per node|node configuration is not available|PartitionConfig|PartitionNodeLimit|"
     r"processors requested than permitted",
     SHAPE_PARAMS),
    (r"does not look like a batch script|batch script", ("script",)),
    (r"Unable to open file", ("script_path",)),
    (r"--chdir|working directory", ("chdir",)),
    (r"unrecognized option|invalid option", ("extra_args",)),
)


def encode_key(key):
    """The job comment carrying an idempotency key. The key is percent-encoded: slurmdbd stores
    double quotes as backticks, which would make such a key unfindable in sacct."""
    return COMMENT_PREFIX + quote(key, safe="-_.:/@+=,~")


def decode_key(comment):
    """The idempotency key in a job comment, or None."""
    if comment and comment.startswith(COMMENT_PREFIX):
        return unquote(comment[len(COMMENT_PREFIX):].strip())
    return None


def build_options(params):
    """sbatch arguments (a list) for the module parameters; no value is ever shell-quoted or split."""
    args = []
    for param, option in VALUE_OPTIONS:
        value = params.get(param)
        if value is not None and value != "":
            args.append("%s=%s" % (option, value))
    if params.get("exclusive"):
        args.append("--exclusive")
    if params.get("idempotency_key"):
        args.append("--comment=" + encode_key(params["idempotency_key"]))
    args += list(params.get("extra_args") or [])
    return args


def job_environment(env):
    """The env parameter as the variables the job gets on top of the submitting environment (never
    sbatch's own environment: see SlurmCLI.submit)."""
    out = {}
    for name, value in (env or {}).items():
        if not ENV_NAME.match(name):
            raise ValueError("env: %r is not a valid environment variable name" % name)
        out[name] = "" if value is None else str(value)
    return out


def blame(message, params):
    """The module parameters sbatch's message points at (those that were set), most specific first."""
    for pattern, candidates in ERROR_PARAMS:
        if re.search(pattern, message or "", re.IGNORECASE):
            chosen = [p for p in candidates if params.get(p) not in (None, "", False, [])]
            if not chosen and len(candidates) == 1:
                chosen = list(candidates)
            if chosen:
                return chosen
    if params.get("extra_args"):
        return ["extra_args"]
    return []
