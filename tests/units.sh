#!/usr/bin/env bash
# ansible-test units: tests/unit through ansible-test's pytest set-up (collection loader, forked
# module tests, pytest-xdist), offline. Extra arguments go to ansible-test, e.g.
# `tests/units.sh tests/unit/plugins/modules/test_slurm_job.py`. See tests/ansible_test.sh.
exec "$(dirname "$0")/ansible_test.sh" units "$@"
