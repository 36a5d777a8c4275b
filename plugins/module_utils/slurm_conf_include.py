# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Slurm settings as data: the managed include file, what a change needs, and what slurmctld reports.

The include file holds ``Key=Value`` lines and nothing else, so its content is a function of the
settings. Whether a change is applied with ``scontrol reconfigure`` or needs daemons restarted
follows slurm.conf(5) of Slurm 22.05 ("A restart of slurmctld is required for changes to this
parameter to take effect"); ``scontrol show config`` is the source of truth afterwards.
"""

from __future__ import annotations

import re

HEADER = "# Managed by hpc.parallelcluster (slurm_tuning). Changes are overwritten.\n"

# slurm.conf(5), 22.05: parameters whose change needs slurmctld restarted ...
RESTART_SLURMCTLD = frozenset(k.lower() for k in (
    "AccountingStorageEnforce", "AuthType", "AuthAltTypes", "AuthAltParameters", "CredType", "GresTypes",
    "JobContainerType", "MaxJobCount", "MaxNodeCount", "PluginDir", "PowerPlugin", "ProctrackType",
    "SchedulerType", "SelectType", "SelectTypeParameters", "SlurmctldHost", "SlurmctldPort", "SlurmdPort",
    "StateSaveLocation", "SwitchType",
))
# ... and those whose change needs every slurmd restarted as well.
RESTART_SLURMD = frozenset(k.lower() for k in (
    "AuthType", "CoreSpecPlugin", "GresTypes", "PluginDir", "SelectType", "SwitchType",
))

# slurm.conf(5) parameter names: letters and digits (Slurm's parser would also take "_" and ".").
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# What Slurm's parser (parse_config.c, keyvalue_pattern) reads as the start of another setting.
_ANOTHER_SETTING = re.compile(r"\s([A-Za-z0-9_.]+)\s*[-*+/]?=")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SettingsError(ValueError):
    """Settings that cannot be written; ``errors`` is a list of (key, message)."""

    def __init__(self, errors):
        super().__init__("; ".join("%s: %s" % e for e in errors))
        self.errors = errors


def format_value(value):
    """A setting's value as slurm.conf spells it: lists comma-joined, booleans YES/NO."""
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def printable(text):
    """``text`` with control characters spelt as escapes, for messages that name a bad key."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], str(text))


def key_problem(key):
    """Why ``key`` cannot be written as a slurm.conf parameter name, or None."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        return ("%r is not a slurm.conf parameter name; use the parameter's name as slurm.conf(5) spells it "
                "(letters and digits)" % (key,))
    return None


def value_problem(key, text):
    """Why ``text`` cannot be written as ``key=<text>`` on a slurm.conf line, or None.

    Slurm's parser ends an unquoted value at the first blank and reads what follows as more
    ``Name=Value`` settings, stops the line at ``#``, and reads ``\\`` as an escape or, at the end,
    as a line continuation. A value that could be read as anything but itself is refused.
    """
    control = _CONTROL.search(text)
    if control:
        return ("the value of %s contains the control character %r; slurm.conf is read line by line, so remove it"
                % (key, control.group()))
    if text == "":
        return "the value of %s is empty; give a value or remove %s" % (key, key)
    another = _ANOTHER_SETTING.search(text)
    if another:
        name = another.group(1)
        return ("the value of %s contains '%s=', which slurm.conf would read as a second setting (%s); give %s "
                "a single value and set other parameters as keys of their own" % (key, name, name, key))
    if re.search(r"\s", text) and not re.fullmatch(r'"[^"]*"', text):
        return ("the value of %s contains blanks: slurm.conf ends an unquoted value at the first blank and reads the "
                "rest as more settings; remove the blanks or write the whole value in double quotes (no quote inside)"
                % key)
    if "#" in text:
        return "the value of %s contains '#', where slurm.conf starts a comment; remove it" % key
    if "\\" in text:
        return ("the value of %s contains '\\', which slurm.conf reads as an escape or a line continuation; "
                "remove it" % key)
    return None


def setting_problem(key, value):
    """Why ``key: value`` cannot be written as one slurm.conf setting, or None (both checked, key first)."""
    problem = key_problem(key)
    if problem:
        return problem
    if value is None or isinstance(value, dict) or (
            isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) or v is None for v in value)):
        return ("the value of %s must be a single-line scalar or a list of scalars, as it is written to slurm.conf as "
                "%s=<value>" % (key, key))
    return value_problem(key, format_value(value))


def check_settings(settings, denied=()):
    """Refuse keys that are not slurm.conf parameter names, values Slurm would read otherwise, and denied keys."""
    denied = {d.lower() for d in denied}
    errors = []
    for key, value in settings.items():
        problem = setting_problem(key, value)
        if problem:
            errors.append((key, problem))
        elif key.lower() in denied:
            errors.append((key, "ParallelCluster manages this setting (its CustomSlurmSettings deny list); remove it, "
                                "or change it through the cluster configuration (for example ScaledownIdletime)"))
    if errors:
        raise SettingsError(errors)


def render_include(settings):
    return HEADER + "".join("%s=%s\n" % (key, format_value(value)) for key, value in settings.items())


def parse_include(text):
    """{key: value} of an include file this module wrote (comments and blank lines skipped)."""
    settings = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _sep, value = line.partition("=")
        settings[key.strip()] = value.strip()
    return settings


def changed_keys(before, after):
    """Keys added, removed or given another value (case-insensitive keys, as Slurm reads them)."""
    old = {k.lower(): str(v) for k, v in before.items()}
    new = {k.lower(): format_value(v) for k, v in after.items()}
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def needed_action(keys):
    """'restart' (slurmctld and slurmd), 'restart_slurmctld', 'reconfigure' or 'none' for changed keys."""
    if not keys:
        return "none"
    if any(k in RESTART_SLURMD for k in keys):
        return "restart"
    if any(k in RESTART_SLURMCTLD for k in keys):
        return "restart_slurmctld"
    return "reconfigure"


def parse_show_config(text):
    """{lowercase key: value} from ``scontrol show config``."""
    config = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and " " not in key.strip():
            config[key.strip().lower()] = value.strip()
    return config


def _normalise(value):
    """Compare as slurmctld prints: ``scontrol show config`` adds a unit to times (``10 sec``)."""
    text = re.sub(r"\s+", "", str(value)).lower()
    match = re.fullmatch(r"(\d+)secs?", text)
    return match.group(1) if match else text


def verify(settings, shown):
    """(mismatches, unverifiable): what slurmctld reports against what was asked.

    Keys that ``scontrol show config`` does not list (it prints some under other names) are
    returned as unverifiable rather than failing.
    """
    mismatches, unverifiable = [], []
    for key, value in settings.items():
        actual = shown.get(key.lower())
        if actual is None:
            unverifiable.append(key)
        elif _normalise(actual) != _normalise(format_value(value)):
            mismatches.append({"key": key, "expected": format_value(value), "actual": actual})
    return mismatches, unverifiable


def ensure_include_line(slurm_conf_text, include_path):
    """slurm.conf's text with ``include <include_path>`` as its last include, or None if already there."""
    line = "include %s" % include_path
    if any(existing.strip() == line for existing in slurm_conf_text.splitlines()):
        return None
    text = slurm_conf_text if slurm_conf_text.endswith("\n") or not slurm_conf_text else slurm_conf_text + "\n"
    return text + line + "\n"


def remove_include_line(slurm_conf_text, include_path):
    line = "include %s" % include_path
    kept = [existing for existing in slurm_conf_text.splitlines(True) if existing.strip() != line]
    text = "".join(kept)
    return None if text == slurm_conf_text else text
