"""Cluster names that ParallelCluster's rule refuses (path tricks, the rule's edges, control characters,
lookalike letters, shell characters) and a command runner that records what a bad name must never
reach, shared by the record store's and the modules' tests."""

import pytest

BAD_NAME_STRINGS = [
    pytest.param("../x", id="parent"),
    pytest.param("../../tmp/x", id="parent-twice"),
    pytest.param("a/b", id="slash"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("..", id="dotdot"),
    pytest.param(".", id="dot"),
    pytest.param("", id="empty"),
    pytest.param("a", id="one-letter"),
    pytest.param("a" * 61, id="too-long"),
    pytest.param("1cluster", id="digit-first"),
    pytest.param("-cluster", id="hyphen-first"),
    pytest.param("hpc_cluster", id="underscore"),
    pytest.param("hpc.cluster", id="dot-inside"),
    pytest.param("hpc cluster", id="space"),
    pytest.param("hpc\x00x", id="nul"),
    pytest.param("hpc\n", id="trailing-newline"),
    pytest.param("hpc\nx", id="newline"),
    pytest.param("hpc\t", id="tab"),
    pytest.param("hpc-\u0441luster", id="cyrillic-es"),
    pytest.param("\u212aluster", id="kelvin-sign"),
    pytest.param("\uff48\uff50\uff43", id="fullwidth"),
    pytest.param("hpc\u200b", id="zero-width-space"),
    pytest.param("hpc-clu\u0455ter", id="cyrillic-dze"),
    pytest.param("$(id)", id="command-substitution"),
    pytest.param("hpc;rm", id="semicolon"),
    pytest.param("*", id="glob"),
    pytest.param("~root", id="tilde"),
]

# What a playbook can still pass for a str option (Ansible makes 123 the string "123").
BAD_NAME_OPTIONS = BAD_NAME_STRINGS + [
    pytest.param(123, id="int"),
    pytest.param(["hpc"], id="list"),
    pytest.param({"a": "b"}, id="dict"),
]

# Every value a record or a caller could hold.
BAD_NAME_VALUES = BAD_NAME_OPTIONS + [
    pytest.param(None, id="none"),
    pytest.param(b"hpc", id="bytes"),
    pytest.param(True, id="bool"),
]


class RecordingRun:
    """A run_command that records every command and fails it: a bad name must reach no command."""

    def __init__(self):
        self.calls = []

    def __call__(self, args, **kwargs):
        self.calls.append(list(args))
        return 1, "", ""
