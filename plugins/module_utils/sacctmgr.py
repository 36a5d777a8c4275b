# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Slurm's accounts, users and QOS as sacctmgr reports them, and sacctmgr's commands run.

Reads use sacctmgr's parsable output (``--noheader --parsable2``, fields separated by ``|``), so no
screen text is parsed. Values come back as Slurm prints them; slurm_accounts.py compares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import SlurmError

QOS_FIELDS = ("Name", "Description", "Priority", "MaxWall", "MaxTRESPU", "MaxJobsPU")
ACCOUNT_FIELDS = ("Account", "Descr", "Org")
ASSOC_FIELDS = ("Account", "User", "ParentName", "Share", "QOS", "DefaultQOS")
USER_FIELDS = ("User", "DefaultAccount")


@dataclass
class AccountsState:
    """What slurmdbd holds for one cluster, keyed by name.

    qos: {name: {description, priority, max_wall, max_tres_per_user, max_jobs_per_user}}
    accounts: {name: {description, organization, parent, fairshare, qos (sorted list), default_qos}}
    users: {name: {default_account, accounts (sorted list)}}
    """

    qos: dict = field(default_factory=dict)
    accounts: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)

    def as_dict(self):
        return {"qos": self.qos, "accounts": self.accounts, "users": self.users}


def parse_rows(out, fields):
    """``--parsable2`` lines as dicts; a line with another number of fields is an error."""
    rows = []
    for line in (out or "").split("\n"):
        if not line.strip():
            continue
        values = line.split("|")
        if len(values) != len(fields):
            raise SlurmError("unexpected sacctmgr line (%d fields, wanted %d): %r" % (len(values), len(fields), line))
        rows.append(dict(zip(fields, values)))
    return rows


def _names(text):
    return sorted(name for name in (text or "").split(",") if name)


class Sacctmgr:
    """sacctmgr through a SlurmCLI (its ``run`` sets SLURM_CONF and raises SlurmError on failure)."""

    def __init__(self, cli, cluster):
        self.cli = cli
        self.cluster = cluster

    def _show(self, entity, fields, where=()):
        args = ["sacctmgr", "--noheader", "--parsable2", "show", entity]
        if where:
            args += ["where"] + list(where)
        args.append("format=" + ",".join(fields))
        _rc, out, _err = self.cli.run(args, env={"LC_ALL": "C"})
        return parse_rows(out, fields)

    def read(self):
        """The cluster's QOS, accounts (with their association on this cluster) and users."""
        state = AccountsState()
        for row in self._show("qos", QOS_FIELDS):
            state.qos[row["Name"]] = {
                "description": row["Description"], "priority": row["Priority"], "max_wall": row["MaxWall"],
                "max_tres_per_user": row["MaxTRESPU"], "max_jobs_per_user": row["MaxJobsPU"]}
        described = {row["Account"]: row for row in self._show("account", ACCOUNT_FIELDS)}
        defaults = {row["User"]: row["DefaultAccount"] for row in self._show("user", USER_FIELDS)}
        for row in self._show("association", ASSOC_FIELDS, ["cluster=" + self.cluster]):
            if row["User"]:
                user = state.users.setdefault(row["User"], {"default_account": defaults.get(row["User"], ""),
                                                            "accounts": []})
                user["accounts"] = sorted(set(user["accounts"]) | {row["Account"]})
                continue
            account = described.get(row["Account"], {})
            state.accounts[row["Account"]] = {
                "description": account.get("Descr", ""), "organization": account.get("Org", ""),
                "parent": row["ParentName"], "fairshare": row["Share"], "qos": _names(row["QOS"]),
                "default_qos": row["DefaultQOS"]}
        return state

    def execute(self, command):
        """One planned command (argv after ``sacctmgr -i``); SlurmError names it when it fails."""
        args = ["sacctmgr", "--immediate"] + list(command)
        rc, out, err = self.cli.run(args, env={"LC_ALL": "C"}, check=False)
        if rc != 0:
            raise SlurmError("sacctmgr %s failed (rc=%s): %s" % (" ".join(command), rc, (err or out).strip()),
                             cmd=args, rc=rc, stdout=out, stderr=err)
        return out
