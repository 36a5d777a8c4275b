# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for a condition with exponential backoff, so short waits answer fast and long ones
do not hammer the controller."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time


class WaitTimeout(Exception):
    """The predicate did not hold before the timeout; ``last`` is its last value."""

    def __init__(self, message, last=None):
        super(WaitTimeout, self).__init__(message)
        self.last = last


def backoff_delays(initial, maximum, factor=2.0):
    """initial, initial*factor, ... capped at maximum, forever."""
    delay = initial
    while True:
        yield delay
        delay = min(delay * factor, maximum)


def wait_for(predicate, timeout, initial=0.5, maximum=10.0, factor=2.0, what="condition",
             sleep=time.sleep, clock=time.monotonic):
    """Call ``predicate()`` until it returns a truthy value (returned) or ``timeout`` seconds pass.

    ``predicate`` may return ``(done, value)``: then ``value`` is what is returned and what
    WaitTimeout carries. The last sleep is shortened to end at the deadline.
    """
    deadline = clock() + timeout
    delays = backoff_delays(initial, maximum, factor)
    while True:
        result = predicate()
        done, value = result if isinstance(result, tuple) else (bool(result), result)
        if done:
            return value
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout("timed out after %ss waiting for %s" % (timeout, what), last=value)
        sleep(min(next(delays), remaining))
