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
    ({"env": {"GOOD": "a\x00b"}}, "env", "control character '\\x00'"),
    ({"env": {"GOOD": "a\rb"}}, "env", "only newlines and tabs"),
    ({"env": {"SLURM_CONF": "/tmp/x"}}, "env", "set the module's slurm_conf"),
    ({"env": {"ENVIRONMENT": "prod"}}, "env", "set by Slurm to BATCH"),
    ({"env": {"BIG": "x" * 131072}}, "env", "longer than a process environment entry"),
    ({"script": "#!/bin/sh\r\ntrue\r\n"}, "script", "carriage return"),
    ({"script": "#!/bin/sh\n\x00"}, "script", "only newlines and tabs"),
    ({"wrap": "a\nb"}, "wrap", "one command line"),
    ({"wrap": "a\x1bb"}, "wrap", "control character"),
    ({"script_path": "/x\n--wrap=id"}, "script_path", "control character"),
    ({"rest_user": "alice\r\nX-Injected: 1"}, "rest_user", "control character"),
    ({"rest_url": "http://h:6830/\r\n"}, "rest_url", "control character"),
    ({"name": "a\u2028b"}, "name", "control character"),
    ({"extra_args": ["--export=NONE"]}, "extra_args", "use the module's env parameter"),
    ({"extra_args": ["--wra=id"]}, "extra_args", "--wrap"),
    ({"extra_args": ["--pars"]}, "extra_args", "the module sets it"),
    ({"extra_args": ["--"]}, "extra_args", "end sbatch's options"),
    ({"extra_args": ["--mail-user=a\nb"]}, "extra_args", "control character"),
])
def test_refused_with_the_parameter_named(params, parameter, words):
    problems = job_input_problems(params)
    assert [p for p, _text in problems] == [parameter]
    assert words in problems[0][1]


def test_shell_metacharacters_and_long_but_legal_values_pass():
    params = {"name": "a \"b\" 'c'; $(touch x) `y` " + "n" * 200, "output": "/shared/out file; y..log",
              "chdir": "/shared/dir..name", "env": {"VAR_1": "$(rm -rf /); `x`"}, "nodes": "2"}
    assert job_input_problems(params) == []


def test_multi_line_script_env_values_tabs_and_ordinary_extra_args_pass():
    params = {"script": "#!/bin/sh\n\techo a\n", "wrap": "printf '%s\\n'\tx", "env": {"PEM": "a\nb\tc", "E": None},
              "extra_args": ["--constraint=efa", "--partition", "compute", "--exclusive", "--wait", "-J", "n"]}
    assert job_input_problems(params) == []
