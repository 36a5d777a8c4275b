"""Root stops a head-node daemon only when /proc shows its PID file names that daemon, and creates
or chowns files without following links another account could have planted."""

import os

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_daemons as ld

IDS = (os.getuid(), os.getgid())


def _pidfile(tmp_path, pid):
    path = tmp_path / "daemon.pid"
    path.write_text("%d\n" % pid)
    return str(path)


def test_a_pid_file_naming_another_program_stops_nothing(tmp_path, sleeper):
    pidfile = _pidfile(tmp_path, sleeper.pid)
    assert not ld.running(pidfile, "/usr/sbin/slurmctld")
    assert ld.stop_pidfile(pidfile, "/usr/sbin/slurmctld") is False
    assert sleeper.poll() is None
    assert not os.path.exists(pidfile)


def test_the_daemon_its_pid_file_names_is_stopped(tmp_path, sleeper):
    pidfile = _pidfile(tmp_path, sleeper.pid)
    assert ld.running(pidfile, ld.daemon_exe("sleep"))
    assert ld.stop_pidfile(pidfile, ld.daemon_exe("sleep"), timeout=5) is True
    sleeper.wait(timeout=5)
    assert not os.path.exists(pidfile)


def test_pid_files_are_neither_read_nor_written_through_links(tmp_path):
    target = tmp_path / "target"
    target.write_text("%d\n" % os.getpid())
    link = tmp_path / "munged.pid"
    os.symlink(str(target), str(link))
    assert ld.read_pid(str(link)) == 0
    with pytest.raises(OSError):
        ld.write_pid(str(link), 1)
    assert target.read_text() == "%d\n" % os.getpid()


def test_own_file_refuses_a_link_and_leaves_its_target_alone(tmp_path):
    target = tmp_path / "target"
    target.write_text("secret\n")
    os.chmod(str(target), 0o600)
    link = tmp_path / "mariadb.log"
    os.symlink(str(target), str(link))
    with pytest.raises(ld.DaemonError, match="mariadb.log"):
        ld.own_file(str(link), IDS, 0o644)
    assert oct(os.stat(str(target)).st_mode & 0o777) == "0o600"
    assert target.read_text() == "secret\n"


def test_own_file_refuses_a_second_hard_link(tmp_path):
    target = tmp_path / "target"
    target.write_text("secret\n")
    os.chmod(str(target), 0o600)
    os.link(str(target), str(tmp_path / "munge.key"))
    with pytest.raises(ld.DaemonError, match="single link"):
        ld.own_file(str(tmp_path / "munge.key"), IDS, 0o644)
    assert oct(os.stat(str(target)).st_mode & 0o777) == "0o600"


def test_own_file_creates_and_sets_mode(tmp_path):
    path = tmp_path / "mariadb.log"
    ld.own_file(str(path), IDS, 0o640)
    info = os.stat(str(path))
    assert oct(info.st_mode & 0o777) == "0o640" and (info.st_uid, info.st_gid) == IDS


def test_own_dir_refuses_a_link(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    os.symlink(str(target), str(tmp_path / "mariadb"))
    with pytest.raises(ld.DaemonError, match="not a symbolic link"):
        ld.own_dir(str(tmp_path / "mariadb"), IDS, 0o755)
    assert oct(os.stat(str(target)).st_mode & 0o777) == "0o700"


class _Paths:
    def __init__(self, root):
        self.root = root
        self.mariadb_pid = os.path.join(root, "mariadb", "mariadb.pid")

    def pid(self, name):
        return os.path.join(self.root, "%s.pid" % name)


def test_daemons_stop_only_their_own_programs(tmp_path, sleeper):
    paths = _Paths(str(tmp_path))
    for name in ("slurmrestd", "slurmctld", "slurmdbd", "munged"):
        with open(paths.pid(name), "w") as handle:
            handle.write("%d\n" % sleeper.pid)
    daemons = ld.Daemons(paths, None, {})
    assert daemons.stop_slurm() == []
    assert daemons.stop_munge() is False
    assert not daemons.running("slurmctld")
    assert sleeper.poll() is None
