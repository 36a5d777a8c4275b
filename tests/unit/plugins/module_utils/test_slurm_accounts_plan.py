"""Slurm accounts, users and QOS as declared: the declaration's checks and the sacctmgr plan."""

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils.sacctmgr import AccountsState
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_accounts import (
    DeclarationError,
    check_declaration,
    plan,
    wall_minutes,
)

CLUSTER = "hpc-cluster"


def fresh():
    """What slurmdbd holds for a new cluster: QOS normal, account root, user root."""
    return AccountsState(
        qos={"normal": {"description": "Normal QOS default", "priority": "0", "max_wall": "",
                        "max_tres_per_user": "", "max_jobs_per_user": ""}},
        accounts={"root": {"description": "default root account", "organization": "root", "parent": "",
                           "fairshare": "1", "qos": ["normal"], "default_qos": ""}},
        users={"root": {"default_account": "root", "accounts": ["root"]}})


def declared(qos=(), accounts=(), users=()):
    return [dict(q) for q in qos], [dict({"parent": "root"}, **a) for a in accounts], [dict(u) for u in users]


def test_wall_minutes_reads_slurms_forms():
    assert wall_minutes(90) == 90
    assert wall_minutes("90") == 90
    assert wall_minutes("01:30:00") == 90
    assert wall_minutes("3-00:00:00") == 3 * 1440
    assert wall_minutes("") is None
    with pytest.raises(ValueError):
        wall_minutes("three days")


def test_a_new_tree_is_made_qos_first_then_parents_then_users():
    qos, accounts, users = declared(
        qos=[{"name": "long", "max_wall": "3-00:00:00", "priority": 10}],
        accounts=[{"name": "theory", "parent": "physics"}, {"name": "physics", "fairshare": 60, "qos": ["long", "normal"]}],
        users=[{"name": "alice", "accounts": ["theory", "physics"], "default_account": "theory"}])
    state = fresh()
    wanted = check_declaration(qos, accounts, users, state, purge=False)
    commands, after = plan(wanted, state, CLUSTER, purge=False)
    assert commands == [
        ["add", "qos", "long", "Priority=10", "MaxWall=4320"],
        ["add", "account", "physics", "Cluster=hpc-cluster", "Parent=root", "Fairshare=60", "QOS=long,normal"],
        ["add", "account", "theory", "Cluster=hpc-cluster", "Parent=physics"],
        ["add", "user", "alice", "Cluster=hpc-cluster", "Account=physics,theory", "DefaultAccount=theory"],
    ]
    assert after.qos["long"]["max_wall"] == "3-00:00:00"
    assert after.accounts["theory"]["qos"] == ["long", "normal"]  # inherited from the parent
    assert after.users["alice"] == {"accounts": ["physics", "theory"], "default_account": "theory"}


def test_what_slurm_already_holds_gives_no_command():
    qos, accounts, users = declared(
        qos=[{"name": "long", "max_wall": 4320, "max_tres_per_user": "node=2,cpu=64"}],
        accounts=[{"name": "physics", "fairshare": 60, "qos": ["normal", "long"], "description": "Physics"}],
        users=[{"name": "alice", "accounts": ["physics"]}])
    state = fresh()
    state.qos["long"] = {"description": "long", "priority": "0", "max_wall": "3-00:00:00",
                         "max_tres_per_user": "cpu=64,node=2", "max_jobs_per_user": ""}
    state.accounts["physics"] = {"description": "physics", "organization": "physics", "parent": "root",
                                 "fairshare": "60", "qos": ["long", "normal"], "default_qos": ""}
    state.users["alice"] = {"default_account": "physics", "accounts": ["physics"]}
    commands, after = plan(check_declaration(qos, accounts, users, state, False), state, CLUSTER, False)
    assert commands == []  # Slurm keeps "Physics" as "physics"
    assert after.as_dict() == state.as_dict()


def test_only_the_differences_are_changed_and_a_users_accounts_are_exact():
    qos, accounts, users = declared(
        qos=[{"name": "long", "priority": 20}],
        accounts=[{"name": "physics", "fairshare": 50, "organization": "Science"},
                  {"name": "chemistry", "parent": "physics"}],
        users=[{"name": "alice", "accounts": ["chemistry", "physics"], "default_account": "chemistry"}])
    state = fresh()
    state.qos["long"] = {"description": "long", "priority": "10", "max_wall": "", "max_tres_per_user": "",
                         "max_jobs_per_user": ""}
    for name in ("physics", "chemistry", "biology"):
        state.accounts[name] = {"description": name, "organization": name, "parent": "root", "fairshare": "1",
                                "qos": ["normal"], "default_qos": ""}
    state.users["alice"] = {"default_account": "physics", "accounts": ["biology", "physics"]}
    commands, after = plan(check_declaration(qos, accounts, users, state, False), state, CLUSTER, False)
    assert commands == [
        ["modify", "qos", "where", "name=long", "set", "Priority=20"],
        ["modify", "account", "where", "name=physics", "set", "Organization=Science"],
        ["modify", "account", "where", "name=physics", "cluster=hpc-cluster", "set", "Fairshare=50"],
        ["modify", "account", "where", "name=chemistry", "cluster=hpc-cluster", "set", "Parent=physics"],
        ["add", "user", "alice", "Cluster=hpc-cluster", "Account=chemistry"],
        ["modify", "user", "where", "name=alice", "set", "DefaultAccount=chemistry"],
        ["delete", "user", "where", "name=alice", "cluster=hpc-cluster", "account=biology"],
    ]
    # Without purge, what is not declared stays.
    assert "biology" in after.accounts


def test_purge_deletes_what_is_not_declared_children_first_and_keeps_slurms_own():
    state = fresh()
    state.qos["old"] = {"description": "old", "priority": "0", "max_wall": "", "max_tres_per_user": "",
                        "max_jobs_per_user": ""}
    state.accounts["physics"] = {"description": "p", "organization": "p", "parent": "root", "fairshare": "1",
                                 "qos": ["normal", "old"], "default_qos": ""}
    state.accounts["group"] = {"description": "g", "organization": "g", "parent": "root", "fairshare": "1",
                               "qos": ["normal"], "default_qos": ""}
    state.accounts["subgroup"] = {"description": "s", "organization": "s", "parent": "group", "fairshare": "1",
                                  "qos": ["normal"], "default_qos": ""}
    state.users["bob"] = {"default_account": "subgroup", "accounts": ["subgroup"]}
    qos, accounts, users = declared(accounts=[{"name": "physics"}])
    commands, after = plan(check_declaration(qos, accounts, users, state, True), state, CLUSTER, True)
    assert commands == [
        ["delete", "user", "where", "name=bob"],
        ["delete", "account", "where", "name=subgroup"],
        ["delete", "account", "where", "name=group"],
        ["delete", "qos", "where", "name=old"],
    ]
    assert sorted(after.accounts) == ["physics", "root"] and sorted(after.users) == ["root"]
    assert after.accounts["physics"]["qos"] == ["normal"] and sorted(after.qos) == ["normal"]


@pytest.mark.parametrize("change, field, words", [
    (lambda q, a, u: a.append({"name": "Physics", "parent": "root"}), "accounts[1].name", "lower case"),
    (lambda q, a, u: a.append({"name": "x", "parent": "nowhere"}), "accounts[1].parent", "nowhere is no account"),
    (lambda q, a, u: a[0].update(parent="physics"), "accounts[0].parent", "its own ancestor"),
    (lambda q, a, u: a[0].update(qos=["fast"]), "accounts[0].qos", "fast is no QOS"),
    (lambda q, a, u: a[0].update(qos=["normal"], default_qos="long"), "accounts[0].default_qos", "one of the account's qos"),
    (lambda q, a, u: a[0].update(fairshare=-1), "accounts[0].fairshare", "whole number"),
    (lambda q, a, u: a[0].update(description="a|b"), "accounts[0].description", "'|'"),
    (lambda q, a, u: a.append({"name": "physics", "parent": "root"}), "accounts[1].name", "declared twice"),
    (lambda q, a, u: u.append({"name": "carol", "accounts": ["chemistry"]}), "users[1].accounts", "chemistry is no account"),
    (lambda q, a, u: u[0].update(default_account="chemistry"), "users[0].default_account", "one of the user's accounts"),
    (lambda q, a, u: u.append({"name": "dave", "accounts": []}), "users[1].accounts", "at least one account"),
    (lambda q, a, u: q.append({"name": "slow", "max_wall": "a week"}), "qos[1].max_wall", "[D-]HH:MM"),
    (lambda q, a, u: q.append({"name": "wide", "max_tres_per_user": "cpus:64"}), "qos[1].max_tres_per_user", "TRES=count"),
    (lambda q, a, u: q.append({"name": "neg", "priority": -5}), "qos[1].priority", "whole number"),
    (lambda q, a, u: u.append({"name": "root", "accounts": ["physics"]}), "users: root", "Slurm's own"),
], ids=["upper-case", "unknown-parent", "cycle", "unknown-qos", "default-qos", "fairshare", "pipe", "twice",
        "user-unknown-account", "user-default", "user-no-account", "max-wall", "tres", "priority", "root-user"])
def test_a_wrong_declaration_is_refused_naming_the_field(change, field, words):
    qos, accounts, users = declared(qos=[{"name": "long"}], accounts=[{"name": "physics"}],
                                    users=[{"name": "alice", "accounts": ["physics"]}])
    change(qos, accounts, users)
    with pytest.raises(DeclarationError) as caught:
        check_declaration(qos, accounts, users, fresh(), purge=False)
    assert any(p.startswith(field) and words in p for p in caught.value.problems), caught.value.problems


def test_with_purge_a_name_slurm_holds_but_the_declaration_drops_is_refused():
    state = fresh()
    state.accounts["biology"] = {"description": "b", "organization": "b", "parent": "root", "fairshare": "1",
                                 "qos": ["normal"], "default_qos": ""}
    qos, accounts, users = declared(users=[{"name": "alice", "accounts": ["biology"]}])
    # Kept without purge: the account is Slurm's already.
    check_declaration(qos, accounts, users, state, purge=False)
    with pytest.raises(DeclarationError) as caught:
        check_declaration(qos, accounts, users, state, purge=True)
    assert caught.value.problems == [
        "users[0].accounts: biology is no account declared in accounts, and purge deletes the others; declare it"]
