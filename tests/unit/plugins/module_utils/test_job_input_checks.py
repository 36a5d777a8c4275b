"""Hostile and malformed job parameters are named before anything reaches Slurm; awkward but
legitimate ones (quotes, ;, $(...), spaces) pass untouched."""

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils.job_input_checks import job_input_problems


@pytest.mark.parametrize("params, parameter, words", [
    ({"output": "/shared/../etc/cron.d/x"}, "output", "'..' component"),
    ({"error": "../err.log"}, "error", "'..' component"),
    ({"chdir": "/shared/a/../../root"}, "chdir", "'..' component"),
    ({"name": "job\nInjected=1"}, "name", "control character"),
    ({"partition": "compute\x00"}, "partition", "control character"),
    ({"name": "n" * 256}, "name", "at most 255"),
    ({"env": {"BAD NAME": "x"}}, "env", "letters, digits and _"),
    ({"env": {"GOOD": "a\x00b"}}, "env", "NUL"),
])
def test_refused_with_the_parameter_named(params, parameter, words):
    problems = job_input_problems(params)
    assert [p for p, _text in problems] == [parameter]
    assert words in problems[0][1]


def test_shell_metacharacters_and_long_but_legal_values_pass():
    params = {"name": "a \"b\" 'c'; $(touch x) `y` " + "n" * 200, "output": "/shared/out file; y..log",
              "chdir": "/shared/dir..name", "env": {"VAR_1": "$(rm -rf /); `x`"}, "nodes": "2"}
    assert job_input_problems(params) == []
