"""The local cluster's run and log directories are root's: links left in them are removed before
root or a Slurm daemon writes there, and the sudoers rule lets slurm run only the power program."""

import os

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_cluster
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_cluster import LocalClusterBackend
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="chowns directories to root")


@pytest.fixture
def backend(tmp_path, monkeypatch):
    # The slurm account comes with the Slurm packages; a unit test must not need them on the host.
    monkeypatch.setattr(local_cluster, "_ids", lambda user: (1, 1))
    paths = LocalPaths.under(tmp_path)
    return LocalClusterBackend(run=None, instance_types=None, paths=paths)


def test_run_and_log_become_roots_and_planted_links_go(backend, tmp_path):
    p = backend.paths
    target = tmp_path / "shadow"
    target.write_text("original\n")
    for directory in (p.run, p.log):
        os.makedirs(directory)
        os.chown(directory, 1, 1)
        os.chmod(directory, 0o775)
    os.symlink(str(target), p.logfile("slurmctld"))
    os.link(str(target), p.pid("munged"))
    open(p.pid("slurmctld"), "w").close()
    assert not backend._dirs_are_roots()
    backend._prepare_dirs()
    for directory in (p.run, p.log):
        info = os.lstat(directory)
        assert (info.st_uid, oct(info.st_mode & 0o777)) == (0, "0o755")
    assert not os.path.lexists(p.logfile("slurmctld")) and not os.path.exists(p.pid("munged"))
    assert os.path.exists(p.pid("slurmctld"))
    assert target.read_text() == "original\n"
    assert backend._dirs_are_roots()
    os.symlink(str(target), p.pid("slurmd-q-dy-cr-1"))
    assert not backend._dirs_are_roots()
