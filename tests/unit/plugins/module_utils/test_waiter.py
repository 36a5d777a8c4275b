"""Backoff polling used to wait for jobs."""

import itertools

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils.waiter import WaitTimeout, backoff_delays, wait_for


def test_backoff_and_timeout_with_a_fake_clock():
    assert list(itertools.islice(backoff_delays(0.5, 3), 5)) == [0.5, 1.0, 2.0, 3, 3]
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    calls = []
    assert wait_for(lambda: (len(calls.append(1) or calls) >= 3, "v"), 60, initial=1, sleep=sleep,
                    clock=lambda: now[0]) == "v"
    assert slept == [1, 2]
    with pytest.raises(WaitTimeout) as err:
        wait_for(lambda: (False, "last"), 5, initial=2, sleep=sleep, clock=lambda: now[0])
    assert err.value.last == "last"
    assert slept[-2:] == [2, 3]  # the last sleep ends at the deadline
