# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a program with its arguments as data (never a shell), in the C locale.

The image builder and the instance launcher take a runner like this one, so their unit tests
give them a fake that records what would run.
"""

from __future__ import annotations

import os
import subprocess
from collections import deque
from dataclasses import dataclass, field

SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Result:
    argv: list
    rc: int
    out: str = ""
    err: str = ""
    tail: list = field(default_factory=list)

    def describe(self):
        """What ran and how it ended, for an error message."""
        last = "\n".join(self.tail[-15:] or (self.err or self.out).strip().splitlines()[-15:])
        return "%s exited %d%s" % (" ".join(self.argv), self.rc, (":\n" + last) if last else "")


class CommandError(RuntimeError):
    def __init__(self, result, what):
        super().__init__("%s failed: %s" % (what, result.describe()))
        self.result = result


def base_env(extra=None):
    """A clean environment: the C locale, a root PATH, and this machine's proxy settings only."""
    env = {"PATH": SBIN_PATH, "LC_ALL": "C", "LANG": "C", "HOME": "/root"}
    for key, value in os.environ.items():
        if key.lower() in ("http_proxy", "https_proxy", "no_proxy", "ftp_proxy"):
            env[key] = value
    env.update(extra or {})
    return env


def run(argv, env=None, on_line=None, input_text=None, timeout=None):
    """Run ``argv``; with ``on_line`` its merged output is streamed line by line (the last lines kept
    in ``tail``), else captured in ``out`` and ``err``."""
    env = base_env(env)
    if on_line is None:
        done = subprocess.run(argv, env=env, input=input_text, capture_output=True, text=True, timeout=timeout,
                              check=False)
        return Result(list(argv), done.returncode, done.stdout, done.stderr)
    tail = deque(maxlen=40)
    with subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as proc:
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            on_line(line)
        rc = proc.wait(timeout=timeout)
    return Result(list(argv), rc, tail=list(tail))


def check(result, what):
    """``result`` if it succeeded, else CommandError naming ``what``."""
    if result.rc != 0:
        raise CommandError(result, what)
    return result
