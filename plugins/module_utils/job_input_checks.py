# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Job parameters refused before anything reaches Slurm.

Values go to sbatch as separate arguments, never through a shell, so quotes, ``;`` and ``$(...)``
reach Slurm as written. What is refused here is what Slurm would store or act on in a surprising
way: control characters (a newline splits a record in Slurm's text outputs), names longer than
the accounting database keeps, and ``..`` in the paths a job writes to, which would land its
files somewhere other than where the task appears to put them.
"""

from __future__ import annotations

import re

# slurmdbd keeps job names in a TINYTEXT column.
MAX_NAME_LENGTH = 255
TEXT_PARAMETERS = ("name", "partition", "nodes", "mem", "time", "array", "dependency", "output", "error",
                   "chdir", "idempotency_key", "job_id")
PATH_PARAMETERS = ("output", "error", "chdir")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def job_input_problems(params):
    """[(parameter, what is wrong and how to fix it)] for the module's parameters, in a stable order."""
    problems = []
    for key in TEXT_PARAMETERS:
        value = params.get(key)
        if value is None:
            continue
        if _CONTROL.search(value):
            problems.append((key, "contains a control character (newline, tab, NUL...); remove it"))
        if key in PATH_PARAMETERS and ".." in value.replace("\\", "/").split("/"):
            problems.append((key, "has a '..' component; give the path without it (an absolute path is safest)"))
    name = params.get("name")
    if name is not None and len(name) > MAX_NAME_LENGTH:
        problems.append(("name", "is %d characters long; Slurm's accounting keeps at most %d"
                         % (len(name), MAX_NAME_LENGTH)))
    for key, value in sorted((params.get("env") or {}).items()):
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            problems.append(("env", "has the variable name %r; use letters, digits and _ only" % key))
        elif value is not None and "\x00" in str(value):
            problems.append(("env", "variable %s contains a NUL character; remove it" % key))
    return problems
