# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The head node's daemons on the local provider: munge, MariaDB, slurmdbd and slurmctld (and the
slurm_rest role's slurmrestd, which a delete stops first).

No init system is assumed (the machine may have none): each daemon is started directly, keeps a
PID file under our run directory, and is stopped by that PID file once /proc shows the PID runs
that daemon's program (a PID file is a claim that its owner, or a reused PID, could make false).
Files root creates or chowns are opened without following links. Start order is munge,
MariaDB, slurmdbd, slurmctld; stop order is the reverse.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time

# The power program is installed as a standalone file, so what both need lives there.
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_power import process_exe

# Where the daemons' programs are looked for when PATH does not have them (Ansible's may not).
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class DaemonError(Exception):
    pass


def daemon_exe(name):
    """The real path of a daemon's program, as /proc/<pid>/exe names it."""
    return os.path.realpath(shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + SBIN_PATH)
                            or os.path.join("/usr/sbin", name))


def read_pid(path):
    """The PID a file names (0 when none). A symbolic link is not followed: a PID file is a claim
    written where others may have been able to write, never a path to read something else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd) as handle:
            return int(handle.read(32).strip() or 0)
    except (OSError, ValueError):
        return 0


def write_pid(path, pid):
    """Write a PID file as root without following a symbolic link planted at ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise DaemonError("%s is not a regular file; remove it" % path)
        handle.write("%d\n" % pid)


def own_file(path, ids, mode):
    """Create ``path`` if needed and give it to ``ids`` (uid, gid) with ``mode``, acting on the
    opened file: a symbolic link or a second hard link is refused, never followed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise DaemonError("%s: %s (a symbolic link there is refused; remove it)" % (path, exc.strerror))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise DaemonError("%s is not a regular file with a single link; remove it" % path)
        os.fchown(fd, *ids)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def own_dir(path, ids, mode):
    """Create the directory ``path`` if needed and give it to ``ids`` with ``mode`` (never through a link)."""
    os.makedirs(path, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise DaemonError("%s: %s (it must be a directory, not a symbolic link)" % (path, exc.strerror))
    try:
        os.fchown(fd, *ids)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def pid_alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not running.
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def daemon_pid(pidfile, exe):
    """The PID in ``pidfile`` if that process runs ``exe``, else 0: whoever could write the file
    (the daemon's own account, or a PID reused since) must not choose what root signals."""
    pid = read_pid(pidfile)
    if pid > 0 and process_exe(pid) == os.path.realpath(exe) and pid_alive(pid):
        return pid
    return 0


def running(pidfile, exe):
    return daemon_pid(pidfile, exe) > 0


def wait_for(predicate, timeout, interval=0.1, what="condition"):
    """Poll ``predicate`` with a gentle backoff until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise DaemonError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 1.5, 1.0)


def stop_pidfile(pidfile, exe, timeout=20):
    """SIGTERM the ``exe`` process ``pidfile`` names, escalate to SIGKILL, remove the file. True if it ran.
    Any other process the file names is left alone."""
    pid = daemon_pid(pidfile, exe)
    if pid:
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not pid_alive(pid), timeout, what="pid %d to exit" % pid)
        except DaemonError:
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not pid_alive(pid), 5, what="pid %d to die" % pid)
    try:
        os.unlink(pidfile)
    except FileNotFoundError:
        pass
    return bool(pid)


class Daemons:
    """Starts and stops the head node's daemons through a ``run_command`` callable.

    ``run`` has AnsibleModule.run_command's signature, so the module passes its own and tests
    can pass a subprocess-based one.
    """

    def __init__(self, paths, run, slurm_env):
        self.paths = paths
        self.run = run
        self.env = slurm_env

    def _pidfile(self, name):
        return self.paths.mariadb_pid if name == "mariadbd" else self.paths.pid(name)

    def running(self, name):
        """True if our PID file of ``name`` (munged, mariadbd, slurmdbd, slurmctld, slurmrestd) names that daemon, running."""
        return running(self._pidfile(name), daemon_exe(name))

    def stop(self, name, timeout=20):
        return stop_pidfile(self._pidfile(name), daemon_exe(name), timeout=timeout)

    def _check(self, args, what, data=None, env=None):
        rc, out, err = self.run(args, data=data, environ_update=env or self.env)
        if rc != 0:
            raise DaemonError("%s failed (rc=%s): %s" % (what, rc, (err or out).strip()[-2000:]))
        return out

    # munge -----------------------------------------------------------------------------
    def munge_ok(self):
        rc, out, _err = self.run(["munge", "-n"])
        if rc != 0:
            return False
        rc, _out, _err = self.run(["unmunge"], data=out)
        return rc == 0

    def ensure_munge(self):
        """Use a munged that already answers (a distro service, say), else start our own."""
        if self.munge_ok():
            return False
        key = "/etc/munge/munge.key"
        # /etc/munge belongs to munge: whatever is there is checked, never followed.
        if os.path.islink(key):
            raise DaemonError("%s is a symbolic link; remove it (munged needs a key file of its own)" % key)
        if not os.path.exists(key):
            self._check(["mungekey", "--create", "--keyfile", key], "mungekey")
        own_file(key, _ids("munge"), 0o400)
        own_dir("/run/munge", _ids("munge"), 0o755)
        # munged writes its PID file as the munge user; a copy in our run directory marks it
        # as ours, so that a delete stops only the munged it started.
        pidfile = "/run/munge/munged.pid"
        self._check(["start-stop-daemon", "--start", "--quiet", "--oknodo", "--chuid", "munge",
                     "--pidfile", pidfile, "--exec", "/usr/sbin/munged", "--",
                     "--pid-file=%s" % pidfile, "--force"], "starting munged")
        wait_for(self.munge_ok, 10, what="munged to answer")
        write_pid(self.paths.pid("munged"), daemon_pid(pidfile, daemon_exe("munged")))
        return True

    # MariaDB ---------------------------------------------------------------------------
    def mariadb_cnf_text(self, port):
        p = self.paths
        return "\n".join([
            "# Private MariaDB instance for Slurm accounting (managed by hpc.parallelcluster).",
            "[client]",
            "socket = %s" % p.mariadb_socket,
            "[mariadbd]",
            "datadir = %s" % p.mariadb_dir,
            "socket = %s" % p.mariadb_socket,
            "pid-file = %s" % p.mariadb_pid,
            "log-error = %s" % p.logfile("mariadb"),
            "bind-address = 127.0.0.1",
            "port = %d" % port,
            # slurmdbd logs "Database settings not recommended values" below half of SchedMD's
            # recommendations (1 GiB, 900 s). The pool's pages are taken as they are used, but its
            # descriptors up front (about 9 MiB for 512M, 19 MiB for 1G): half, then.
            "innodb_buffer_pool_size = 512M",
            "innodb_lock_wait_timeout = 900",
            "performance_schema = OFF",
            # slurmdbd's tables are InnoDB; the MyISAM key cache and Aria page cache serve only
            # MariaDB's own system tables, and a small log buffer holds slurmdbd's few writes. At
            # their defaults (128M, 128M, 16M) they held about 43 MiB of an idle server's memory.
            "key_buffer_size = 2M",
            "aria_pagecache_buffer_size = 2M",
            "innodb_log_buffer_size = 4M",
            "",
        ])

    def mariadb_ok(self):
        if not self.running("mariadbd"):
            return False
        rc, _out, _err = self.run(["mariadb-admin", "--defaults-file=%s" % self.paths.mariadb_cnf, "ping"])
        return rc == 0

    def ensure_mariadb(self):
        p = self.paths
        if self.mariadb_ok():
            return False
        mysql_ids = _ids("mysql")
        own_dir(p.mariadb_dir, mysql_ids, 0o700)
        own_dir(p.mariadb_run, mysql_ids, 0o755)
        if not os.path.isdir(os.path.join(p.mariadb_dir, "mysql")):
            self._check(["mariadb-install-db", "--defaults-file=%s" % p.mariadb_cnf, "--user=mysql",
                         "--auth-root-authentication-method=socket", "--skip-test-db"],
                        "initialising the accounting database")
        # The server drops privileges to mysql, and every path it writes must allow that.
        own_file(p.logfile("mariadb"), mysql_ids, 0o640)
        self._check(["start-stop-daemon", "--start", "--quiet", "--oknodo", "--background",
                     "--pidfile", p.mariadb_pid, "--exec", "/usr/sbin/mariadbd", "--",
                     "--defaults-file=%s" % p.mariadb_cnf, "--user=mysql"], "starting MariaDB")
        wait_for(self.mariadb_ok, 60, what="MariaDB to answer")
        return True

    def ensure_accounting_user(self, database):
        """The config's database and its user (an accounting_database.DatabaseTarget, whose user and
        database names were checked); the password goes on stdin, never on a command line."""
        sql = (
            "CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY '{pw}';\n"
            "ALTER USER '{user}'@'127.0.0.1' IDENTIFIED BY '{pw}';\n"
            "CREATE DATABASE IF NOT EXISTS `{db}`;\n"
            "GRANT ALL ON `{db}`.* TO '{user}'@'127.0.0.1';\n"
        ).format(user=database.user, db=database.name,
                 pw=database.password.replace("\\", "\\\\").replace("'", "\\'"))
        self._check(["mariadb", "--defaults-file=%s" % self.paths.mariadb_cnf], "creating the accounting user", data=sql)

    # Slurm -----------------------------------------------------------------------------
    def slurmdbd_ok(self):
        return self.running("slurmdbd")

    def ensure_slurmdbd(self):
        if self.slurmdbd_ok():
            return False
        self._check(["slurmdbd"], "starting slurmdbd")
        wait_for(self.slurmdbd_ok, 30, what="slurmdbd to start")
        # slurmctld registers the cluster itself, but only once slurmdbd answers.
        wait_for(lambda: self.run(["sacctmgr", "-n", "-P", "list", "cluster"], environ_update=self.env)[0] == 0,
                 30, what="slurmdbd to answer sacctmgr")
        return True

    def slurmctld_ok(self):
        if not self.running("slurmctld"):
            return False
        return self.run(["scontrol", "ping"], environ_update=self.env)[0] == 0

    def ensure_slurmctld(self):
        if self.slurmctld_ok():
            return False
        if not self.running("slurmctld"):
            self._check(["slurmctld"], "starting slurmctld")
        try:
            wait_for(self.slurmctld_ok, 60, what="slurmctld to answer scontrol ping")
        except DaemonError as exc:
            raise DaemonError("%s; see %s" % (exc, self.paths.logfile("slurmctld")))
        return True

    def reconfigure(self):
        self._check(["scontrol", "reconfigure"], "scontrol reconfigure")

    def stop_slurm(self):
        """Stop the REST, controller and accounting daemons, newest first. Returns what was running.

        slurmrestd is started by the slurm_rest role (with a PID file in our run directory)."""
        stopped = []
        for name in ("slurmrestd", "slurmctld", "slurmdbd"):
            if self.stop(name):
                stopped.append(name)
        return stopped

    def stop_slurmctld(self):
        return self.stop("slurmctld")

    def stop_mariadb(self):
        return self.stop("mariadbd", timeout=60)

    def stop_accounting(self):
        """slurmdbd, then MariaDB, stop: for a cluster without a Database, which keeps no accounting
        (their data stays, as an RDS database outlives a Database removed from a ParallelCluster
        config), or for a restart with new MariaDB settings."""
        return [name for name, stopped in (("slurmdbd", self.stop("slurmdbd")), ("mariadbd", self.stop_mariadb()))
                if stopped]

    def stop_munge(self):
        """Only the munged we started (a distro service stays with its owner)."""
        return self.stop("munged")


def _ids(user):
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid
