# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Job parameters refused before anything reaches Slurm.

Values go to sbatch as separate arguments, never through a shell, so quotes, ``;`` and ``$(...)``
reach Slurm as written. What is refused here is what Slurm would store or act on in a surprising
way: control characters (a newline splits a record in Slurm's text outputs, a NUL cuts a value
short), names longer than the accounting database keeps, ``..`` in the paths a job writes to,
sbatch options in ``extra_args`` that would take over what the module itself passes (the job's
environment, the script, sbatch's output format), and ``env`` names Slurm keeps for itself.
"""

from __future__ import annotations

import re

# slurmdbd keeps job names in a TINYTEXT column.
MAX_NAME_LENGTH = 255
# One parameter, one line: every control character (C0, DEL, C1) and the Unicode line and
# paragraph separators, which Python's str.splitlines() breaks Slurm's outputs on.
TEXT_PARAMETERS = ("name", "partition", "nodes", "mem", "time", "array", "dependency", "output", "error",
                   "chdir", "idempotency_key", "job_id", "script_path", "slurm_conf", "rest_url", "rest_user")
PATH_PARAMETERS = ("output", "error", "chdir")
_CONTROL = re.compile(u"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A batch script (and an env value) may span lines and hold tabs; a carriage return or any other
# control character may not (sbatch itself refuses DOS line breaks).
_CONTROL_IN_TEXT = re.compile(u"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# A wrap command is one line: tabs are fine.
_CONTROL_IN_LINE = re.compile(u"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# sbatch reads environment entries into 256-byte name buffers; Linux refuses to start a process
# with an environment string of 128 KiB or more.
MAX_ENV_NAME = 255
MAX_ENV_ENTRY = 128 * 1024 - 1
# env names the job can never receive as given: SLURM_CONF is the cluster sbatch submits to (the
# module's slurm_conf), and Slurm drops or sets the others for every batch job.
RESERVED_ENV = {
    "SLURM_CONF": "selects the cluster configuration sbatch submits with and is always the cluster's in "
                  "the job; set the module's slurm_conf instead",
    "DISPLAY": "is dropped by Slurm from a batch job's environment",
    "ENVIRONMENT": "is set by Slurm to BATCH in every batch job",
    "HOSTNAME": "is set by Slurm to the compute node's name in every batch job",
}
# sbatch options the module passes itself; getopt also accepts any unambiguous abbreviation.
RESERVED_OPTIONS = (("export", "env"), ("export-file", "env"), ("wrap", "wrap"), ("parsable", None),
                    ("test-only", None))


def _control_problem(text):
    match = _CONTROL.search(text)
    return "contains the control character %r; remove it" % match.group() if match else None


def _extra_arg_problem(arg):
    if _CONTROL.search(arg):
        return "item %r %s" % (arg, _control_problem(arg))
    if arg == "--":
        return "item '--' would end sbatch's options; the module places the script itself"
    if arg.startswith("--") and len(arg) > 2:
        option = arg[2:].split("=", 1)[0]
        for reserved, parameter in RESERVED_OPTIONS:
            if reserved.startswith(option):
                instead = "use the module's %s parameter" % parameter if parameter else "the module sets it"
                return "item %r is sbatch's --%s, which the module passes itself; %s" % (arg, reserved, instead)
    return None


def _env_problems(env):
    problems = []
    for key, value in sorted((env or {}).items()):
        text = "" if value is None else str(value)
        if not ENV_NAME.match(key) or len(key) > MAX_ENV_NAME:
            problems.append(("env", "has the variable name %r; use letters, digits and _ only (at most %d), not "
                             "starting with a digit" % (key, MAX_ENV_NAME)))
        elif key in RESERVED_ENV:
            problems.append(("env", "variable %s %s" % (key, RESERVED_ENV[key])))
        elif _CONTROL_IN_TEXT.search(text):
            problems.append(("env", "variable %s contains the control character %r (only newlines and tabs are "
                             "kept in values); remove it" % (key, _CONTROL_IN_TEXT.search(text).group())))
        elif len(key.encode("utf-8")) + 1 + len(text.encode("utf-8")) > MAX_ENV_ENTRY:
            problems.append(("env", "variable %s is longer than a process environment entry can be (%d bytes); "
                             "pass large data in a file" % (key, MAX_ENV_ENTRY)))
    return problems


def job_input_problems(params):
    """[(parameter, what is wrong and how to fix it)] for the module's parameters, in a stable order."""
    problems = []
    for key in TEXT_PARAMETERS:
        value = params.get(key)
        if value is None:
            continue
        control = _control_problem(value)
        if control:
            problems.append((key, control))
        if key in PATH_PARAMETERS and ".." in value.replace("\\", "/").split("/"):
            problems.append((key, "has a '..' component; give the path without it (an absolute path is safest)"))
    script = params.get("script")
    if script is not None:
        match = _CONTROL_IN_TEXT.search(script)
        if match and match.group() == "\r":
            problems.append(("script", "contains a carriage return (DOS line ends); use Unix line ends"))
        elif match:
            problems.append(("script", "contains the control character %r (only newlines and tabs belong in a "
                             "script); remove it" % match.group()))
    wrap = params.get("wrap")
    if wrap is not None:
        match = _CONTROL_IN_LINE.search(wrap)
        if match and match.group() == "\n":
            problems.append(("wrap", "holds several lines; wrap is one command line, give a multi-line job as script"))
        elif match:
            problems.append(("wrap", "contains the control character %r; remove it" % match.group()))
    for arg in params.get("extra_args") or []:
        problem = _extra_arg_problem(arg)
        if problem:
            problems.append(("extra_args", problem))
    name = params.get("name")
    if name is not None and len(name) > MAX_NAME_LENGTH:
        problems.append(("name", "is %d characters long; Slurm's accounting keeps at most %d"
                         % (len(name), MAX_NAME_LENGTH)))
    return problems + _env_problems(params.get("env"))
