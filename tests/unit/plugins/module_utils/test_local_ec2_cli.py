"""The local EC2 API's command line: options reach the launcher as given, answers are JSON, errors a
message and status 1, the public key is read only from a root-owned file reached without links."""

import io
import json
import os

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_ec2_cli as cli

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnu0e2qY7 user@laptop\n"


class FakeLauncher:
    calls = []

    def __init__(self):
        pass

    def run(self, *args):
        self.calls.append(("run",) + args)
        return {"instance_id": "i-0123456789abcdef0"}

    def wait_ready(self, instance_id, timeout):
        self.calls.append(("wait", instance_id, timeout))
        return "running", []

    def describe(self, ids=None):
        return [{"instance_id": "i-0123456789abcdef0", "image_id": "ami-0123456789abcdef0", "state": "running"}]

    def terminate(self, instance_id):
        return {"instance_id": instance_id}


def main(*argv):
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), out, err), out.getvalue(), err.getvalue()


@pytest.fixture
def launcher(monkeypatch):
    FakeLauncher.calls = []
    monkeypatch.setattr(cli, "Launcher", FakeLauncher)
    return FakeLauncher


def test_run_instance(launcher, tmp_path):
    key = tmp_path / "key.pub"
    key.write_text(KEY)
    rc, out, _err = main("run-instance", "--image-id", "ami-0123456789abcdef0", "--hostname", "node1", "--address",
                         "10.0.0.5/24", "--bridge", "br0", "--bridge-netns", "ns", "--public-key-file", str(key),
                         "--tag", "a=b=c", "--wait", "30")
    assert rc == 0
    assert launcher.calls[0] == ("run", "ami-0123456789abcdef0", "node1", "10.0.0.5/24", "br0", KEY, "ns", None,
                                 {"a": "b=c"})
    assert launcher.calls[1] == ("wait", "i-0123456789abcdef0", 30)
    assert json.loads(out) == {"instance_id": "i-0123456789abcdef0", "system_state": "running", "failed_units": []}


def test_key_through_a_link_is_refused(launcher, tmp_path):
    key = tmp_path / "key.pub"
    key.write_text(KEY)
    os.symlink(str(key), str(tmp_path / "link.pub"))
    rc, _out, err = main("run-instance", "--image-id", "ami-0123456789abcdef0", "--hostname", "n", "--address",
                         "10.0.0.5/24", "--bridge", "br0", "--public-key-file", str(tmp_path / "link.pub"))
    assert rc == 1 and "--public-key-file" in err and launcher.calls == []


def test_key_of_another_owner_is_refused(launcher, tmp_path):
    key = tmp_path / "key.pub"
    key.write_text(KEY)
    os.chown(key, 1000, 1000)
    rc, _out, err = main("run-instance", "--image-id", "ami-0123456789abcdef0", "--hostname", "n", "--address",
                         "10.0.0.5/24", "--bridge", "br0", "--public-key-file", str(key))
    assert rc == 1 and "not by root" in err


def test_image_in_use_is_not_deregistered(launcher):
    rc, _out, err = main("deregister-image", "ami-0123456789abcdef0")
    assert rc == 1 and "i-0123456789abcdef0" in err


def test_terminate_and_describe(launcher):
    rc, out, _err = main("terminate-instances", "i-0123456789abcdef0")
    assert rc == 0 and json.loads(out) == {"terminated": [{"instance_id": "i-0123456789abcdef0"}]}
    rc, out, _err = main("describe-instances")
    assert json.loads(out)["instances"][0]["state"] == "running"


def test_only_root(launcher, monkeypatch):
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000)
    rc, _out, err = main("describe-instances")
    assert rc == 1 and "run as root" in err
