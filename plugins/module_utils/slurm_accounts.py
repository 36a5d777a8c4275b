# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Slurm accounts, users and QOS as declared data: the declaration checked, compared with what
slurmdbd holds (sacctmgr.py reads it), and the sacctmgr commands that close the difference.

Only what a declaration sets is managed: a QOS or account option left out keeps its value. A declared
user's accounts are exactly the listed ones. With ``purge``, QOS, accounts and users that are not
declared are deleted, except Slurm's own (QOS normal, account root, user root).
"""

from __future__ import annotations

import copy
import re

from ansible_collections.hpc.parallelcluster.plugins.module_utils.sacctmgr import AccountsState

# Slurm stores account, user and QOS names in lower case; a declared name in another case would never
# compare equal. The characters are those sacctmgr takes without quoting.
NAME = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,63}$")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
TRES = re.compile(r"^[a-z]+(/[a-z0-9_.-]+)?=[0-9]+[KMGTP]?$")
WALL = re.compile(r"^(?:(\d+)-)?(\d+):(\d{2})(?::(\d{2}))?$")
PROTECTED = {"qos": ("normal",), "accounts": ("root",), "users": ("root",)}

QOS_OPTIONS = ("description", "priority", "max_wall", "max_tres_per_user", "max_jobs_per_user")
ACCOUNT_OPTIONS = ("description", "organization", "fairshare", "qos", "default_qos")
# sacctmgr's name for each option on its command line.
SACCTMGR_KEYS = {"description": "Description", "priority": "Priority", "max_wall": "MaxWall",
                 "max_tres_per_user": "MaxTRESPerUser", "max_jobs_per_user": "MaxJobsPerUser",
                 "organization": "Organization", "fairshare": "Fairshare", "qos": "QOS",
                 "default_qos": "DefaultQOS", "parent": "Parent"}


class DeclarationError(ValueError):
    """The declaration is wrong; ``problems`` name each field (``accounts[1].parent: ...``)."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


def wall_minutes(value):
    """A wall-clock limit as minutes: an int, or Slurm's ``[D-]HH:MM[:SS]``; None for no limit."""
    if value in (None, ""):
        return None
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    match = WALL.match(str(value))
    if not match:
        raise ValueError(value)
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return days * 1440 + hours * 60 + minutes + (1 if seconds else 0)


def tres(value):
    """``cpu=64,node=2`` as a dict, in any order."""
    return dict(sorted(part.split("=", 1) for part in str(value or "").split(",") if part))


def _text_problem(value):
    if "|" in value or any(ord(c) < 32 for c in value):
        return "must not hold '|' or a control character (sacctmgr's parsable output splits on '|')"
    return None


def _name_problem(name, pattern):
    if not isinstance(name, str) or not pattern.match(name):
        return "%r is not a Slurm name: lower-case letters, digits, '_', '.' and '-' (Slurm stores names in lower case)" % (
            name,)
    return None


def _entries(entries, kind, pattern, problems):
    """(``kind[index]``, entry) for each entry with a good name, once per name; the others are problems."""
    seen = set()
    for index, entry in enumerate(entries):
        where = "%s[%d]" % (kind, index)
        problem = _name_problem(entry.get("name"), pattern)
        if problem:
            problems.append("%s.name: %s" % (where, problem))
        elif entry["name"] in seen:
            problems.append("%s.name: %s is declared twice; merge the two entries" % (where, entry["name"]))
        else:
            seen.add(entry["name"])
            yield where, entry


def _check_qos(entries, problems):
    out = {}
    for where, entry in _entries(entries, "qos", NAME, problems):
        wanted = {}
        for option in QOS_OPTIONS:
            value = entry.get(option)
            if value is None:
                continue
            if option == "description" and _text_problem(value):
                problems.append("%s.description: %s" % (where, _text_problem(value)))
            elif option in ("priority", "max_jobs_per_user") and (not isinstance(value, int) or value < 0):
                problems.append("%s.%s: %r must be a whole number, 0 or more" % (where, option, value))
            elif option == "max_wall":
                try:
                    wall_minutes(value)
                except ValueError:
                    problems.append("%s.max_wall: %r is not minutes or [D-]HH:MM[:SS]" % (where, value))
            elif option == "max_tres_per_user" and not all(TRES.match(p) for p in str(value).split(",")):
                problems.append("%s.max_tres_per_user: %r is not TRES=count[,TRES=count] (for example cpu=64,node=2)"
                                % (where, value))
            wanted[option] = value
        out[entry["name"]] = wanted
    return out


def _unknown(name, kind, section, purge):
    """Why ``name`` cannot be referred to: it is not declared, and not held by Slurm or purged."""
    if purge:
        return "%s is no %s declared in %s, and purge deletes the others; declare it" % (name, kind, section)
    return "%s is no %s declared in %s or held by Slurm; declare it" % (name, kind, section)


def _check_accounts(entries, qos_names, problems, purge):
    out = {}
    for where, entry in _entries(entries, "accounts", NAME, problems):
        wanted = {"parent": entry.get("parent") or "root"}
        for option in ACCOUNT_OPTIONS:
            value = entry.get(option)
            if value is None:
                continue
            if option in ("description", "organization") and _text_problem(value):
                problems.append("%s.%s: %s" % (where, option, _text_problem(value)))
            elif option == "fairshare" and not (value == "parent" or (isinstance(value, int) and value >= 0)):
                problems.append("%s.fairshare: %r must be a whole number, 0 or more, or 'parent'" % (where, value))
            elif option == "qos":
                value = sorted(set(value))
                for name in value:
                    if name not in qos_names:
                        problems.append("%s.qos: %s" % (where, _unknown(name, "QOS", "qos", purge)))
            elif option == "default_qos" and value not in (entry.get("qos") or qos_names):
                problems.append("%s.default_qos: %s must be one of the account's qos" % (where, value))
            wanted[option] = value
        out[entry["name"]] = wanted
    return out


def _check_tree(accounts, known, problems, names, purge):
    """Each parent is root, a declared account or (without purge) one Slurm holds; no cycles."""
    for name, wanted in accounts.items():
        index = names.index(name)
        parent = wanted["parent"]
        if parent != "root" and parent not in accounts and parent not in known:
            problems.append("accounts[%d].parent: %s" % (index, _unknown(parent, "account", "accounts", purge)))
        seen = [name]
        while parent in accounts and parent not in seen:
            seen.append(parent)
            parent = accounts[parent]["parent"]
        if parent == name:
            problems.append("accounts[%d].parent: %s is its own ancestor (%s)" % (index, name, " -> ".join(seen + [name])))


def _check_users(entries, account_names, problems, purge):
    out = {}
    for where, entry in _entries(entries, "users", USER_NAME, problems):
        accounts = sorted(set(entry.get("accounts") or []))
        if not accounts:
            problems.append("%s.accounts: a user needs at least one account" % where)
            continue
        for name in accounts:
            if name not in account_names:
                problems.append("%s.accounts: %s" % (where, _unknown(name, "account", "accounts", purge)))
        default = entry.get("default_account") or entry["accounts"][0]
        if default not in accounts:
            problems.append("%s.default_account: %s must be one of the user's accounts" % (where, default))
        out[entry["name"]] = {"accounts": accounts, "default_account": default}
    return out


def check_declaration(qos, accounts, users, state, purge):
    """The declaration as {qos, accounts, users} keyed by name; DeclarationError names every problem.

    Names may refer to what Slurm already holds, unless ``purge`` would delete it."""
    problems = []
    kept = (lambda kind, held: set(PROTECTED[kind])) if purge else (lambda kind, held: set(held) | set(PROTECTED[kind]))
    wanted_qos = _check_qos(qos, problems)
    wanted_accounts = _check_accounts(accounts, set(wanted_qos) | kept("qos", state.qos), problems, purge)
    names = [e.get("name") for e in accounts]
    _check_tree(wanted_accounts, kept("accounts", state.accounts), problems, names, purge)
    wanted_users = _check_users(users, set(wanted_accounts) | kept("accounts", state.accounts), problems, purge)
    for kind, wanted in (("qos", wanted_qos), ("accounts", wanted_accounts), ("users", wanted_users)):
        for name in PROTECTED[kind]:
            if name in wanted and kind != "qos":
                problems.append("%s: %s is Slurm's own and is not managed here; remove it" % (kind, name))
    if problems:
        raise DeclarationError(problems)
    return {"qos": wanted_qos, "accounts": wanted_accounts, "users": wanted_users}


def _same(option, wanted, held):
    if option == "max_wall":
        return wall_minutes(wanted) == wall_minutes(held)
    if option == "max_tres_per_user":
        return tres(wanted) == tres(held)
    if option in ("priority", "max_jobs_per_user", "fairshare"):
        return str(wanted) == str(held)
    if option == "qos":
        return sorted(wanted) == sorted(held)
    if option in ("description", "organization"):
        return wanted.lower() == held.lower()  # Slurm stores them in lower case
    return wanted == held


def _setting(option, value):
    if option == "max_wall":
        value = wall_minutes(value)
    elif isinstance(value, list):
        value = ",".join(value)
    return "%s=%s" % (SACCTMGR_KEYS[option], value)


def _held_value(option, value):
    """A declared value as sacctmgr would print it back, for the expected state after a change."""
    if option == "max_wall":
        minutes = wall_minutes(value)
        days, rest = divmod(minutes, 1440)
        text = "%02d:%02d:00" % divmod(rest, 60)
        return "%d-%s" % (days, text) if days else text
    if option in ("priority", "max_jobs_per_user", "fairshare"):
        return str(value)
    if option == "max_tres_per_user":
        return ",".join("%s=%s" % item for item in tres(value).items())
    if option in ("description", "organization"):
        return value.lower()
    return value


def _depth(name, parents):
    depth = 0
    while name in parents and parents[name] and parents[name] != name and depth < 100:
        name = parents[name]
        depth += 1
    return depth


def plan(wanted, state, cluster, purge):
    """The sacctmgr commands (argv after ``sacctmgr --immediate``) in an order Slurm accepts, and the
    state they leave: QOS first, then accounts parents first, users, then the deletions of ``purge``."""
    commands = []
    after = copy.deepcopy(state)

    for name, options in wanted["qos"].items():
        held = state.qos.get(name)
        changes = [o for o in options if held is None or not _same(o, options[o], held.get(o, ""))]
        if held is None:
            commands.append(["add", "qos", name] + [_setting(o, options[o]) for o in changes])
            after.qos[name] = {o: "" for o in QOS_OPTIONS}
            after.qos[name].update({"description": name, "priority": "0"})
        elif changes:
            commands.append(["modify", "qos", "where", "name=" + name, "set"] + [_setting(o, options[o]) for o in changes])
        after.qos[name].update({o: _held_value(o, options[o]) for o in changes})

    parents = {name: options["parent"] for name, options in wanted["accounts"].items()}
    for name in sorted(wanted["accounts"], key=lambda n: (_depth(n, parents), n)):
        options = wanted["accounts"][name]
        held = state.accounts.get(name)
        if held is None:
            commands.append(["add", "account", name, "Cluster=" + cluster]
                            + [_setting(o, options[o]) for o in ("parent",) + ACCOUNT_OPTIONS if o in options])
            after.accounts[name] = {"description": name, "organization": name, "parent": options["parent"],
                                    "fairshare": "1", "qos": list(after.accounts.get(options["parent"], {}).get("qos", [])),
                                    "default_qos": ""}
            after.accounts[name].update({o: _held_value(o, options[o]) for o in ACCOUNT_OPTIONS if o in options})
            continue
        described = [o for o in ("description", "organization") if o in options and not _same(o, options[o], held[o])]
        if described:
            commands.append(["modify", "account", "where", "name=" + name, "set"]
                            + [_setting(o, options[o]) for o in described])
        if options["parent"] != held["parent"]:
            commands.append(["modify", "account", "where", "name=" + name, "cluster=" + cluster, "set",
                             _setting("parent", options["parent"])])
            after.accounts[name]["parent"] = options["parent"]
        associated = [o for o in ("fairshare", "qos", "default_qos") if o in options and not _same(o, options[o], held[o])]
        if associated:
            commands.append(["modify", "account", "where", "name=" + name, "cluster=" + cluster, "set"]
                            + [_setting(o, options[o]) for o in associated])
        after.accounts[name].update({o: _held_value(o, options[o]) for o in described + associated})

    for name, options in wanted["users"].items():
        held = state.users.get(name)
        if held is None:
            commands.append(["add", "user", name, "Cluster=" + cluster, "Account=" + ",".join(options["accounts"]),
                             "DefaultAccount=" + options["default_account"]])
        else:
            missing = [a for a in options["accounts"] if a not in held["accounts"]]
            extra = [a for a in held["accounts"] if a not in options["accounts"]]
            if missing:
                commands.append(["add", "user", name, "Cluster=" + cluster, "Account=" + ",".join(missing)])
            if held["default_account"] != options["default_account"]:
                commands.append(["modify", "user", "where", "name=" + name, "set",
                                 "DefaultAccount=" + options["default_account"]])
            if extra:
                commands.append(["delete", "user", "where", "name=" + name, "cluster=" + cluster,
                                 "account=" + ",".join(extra)])
        after.users[name] = dict(options)

    if purge:
        for name in sorted(set(state.users) - set(wanted["users"]) - set(PROTECTED["users"])):
            commands.append(["delete", "user", "where", "name=" + name])
            del after.users[name]
        held_parents = {name: held["parent"] for name, held in state.accounts.items()}
        doomed = set(state.accounts) - set(wanted["accounts"]) - set(PROTECTED["accounts"])
        for name in sorted(doomed, key=lambda n: (-_depth(n, held_parents), n)):
            commands.append(["delete", "account", "where", "name=" + name])
            del after.accounts[name]
        for name in sorted(set(state.qos) - set(wanted["qos"]) - set(PROTECTED["qos"])):
            commands.append(["delete", "qos", "where", "name=" + name])
            del after.qos[name]
            for account in after.accounts.values():
                account["qos"] = [q for q in account["qos"] if q != name]
    return commands, AccountsState(qos=after.qos, accounts=after.accounts, users=after.users)
