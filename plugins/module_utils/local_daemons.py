# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The head node's daemons on the local provider: munge, MariaDB, slurmdbd and slurmctld (and the
slurm_rest role's slurmrestd, which a delete stops first).

No init system is assumed (the machine may have none): each daemon is started directly, keeps a
PID file under our run directory, and is stopped by that PID file. Start order is munge,
MariaDB, slurmdbd, slurmctld; stop order is the reverse.
"""

from __future__ import annotations

import os
import signal
import time


class DaemonError(Exception):
    pass


def read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


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


def running(pidfile):
    return pid_alive(read_pid(pidfile))


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


def stop_pidfile(pidfile, timeout=20):
    """SIGTERM the process in ``pidfile``, escalate to SIGKILL, remove the file. True if it ran."""
    pid = read_pid(pidfile)
    was_running = pid_alive(pid)
    if was_running:
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
    return was_running


class Daemons:
    """Starts and stops the head node's daemons through a ``run_command`` callable.

    ``run`` has AnsibleModule.run_command's signature, so the module passes its own and tests
    can pass a subprocess-based one.
    """

    def __init__(self, paths, run, slurm_env):
        self.paths = paths
        self.run = run
        self.env = slurm_env

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
        if not os.path.exists("/etc/munge/munge.key"):
            self._check(["mungekey", "--create", "--keyfile", "/etc/munge/munge.key"], "mungekey")
        os.chown("/etc/munge/munge.key", *_ids("munge"))
        os.chmod("/etc/munge/munge.key", 0o400)
        os.makedirs("/run/munge", exist_ok=True)
        os.chown("/run/munge", *_ids("munge"))
        # munged writes its PID file as the munge user; a copy in our run directory marks it
        # as ours, so that a delete stops only the munged it started.
        pidfile = "/run/munge/munged.pid"
        self._check(["start-stop-daemon", "--start", "--quiet", "--oknodo", "--chuid", "munge",
                     "--pidfile", pidfile, "--exec", "/usr/sbin/munged", "--",
                     "--pid-file=%s" % pidfile, "--force"], "starting munged")
        wait_for(self.munge_ok, 10, what="munged to answer")
        os.makedirs(self.paths.run, exist_ok=True)
        with open(self.paths.pid("munged"), "w") as handle:
            handle.write("%d\n" % read_pid(pidfile))
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
            "innodb_buffer_pool_size = 64M",
            "innodb_lock_wait_timeout = 900",
            "performance_schema = OFF",
            "",
        ])

    def mariadb_ok(self):
        if not running(self.paths.mariadb_pid):
            return False
        rc, _out, _err = self.run(["mariadb-admin", "--defaults-file=%s" % self.paths.mariadb_cnf, "ping"])
        return rc == 0

    def ensure_mariadb(self):
        p = self.paths
        if self.mariadb_ok():
            return False
        mysql_ids = _ids("mysql")
        for path in (p.mariadb_dir, p.mariadb_run):
            os.makedirs(path, exist_ok=True)
            os.chown(path, *mysql_ids)
        os.chmod(p.mariadb_dir, 0o700)
        os.chmod(p.mariadb_run, 0o755)
        if not os.path.isdir(os.path.join(p.mariadb_dir, "mysql")):
            self._check(["mariadb-install-db", "--defaults-file=%s" % p.mariadb_cnf, "--user=mysql",
                         "--auth-root-authentication-method=socket", "--skip-test-db"],
                        "initialising the accounting database")
        # The server drops privileges to mysql, and every path it writes must allow that.
        for path in (p.logfile("mariadb"),):
            if not os.path.exists(path):
                open(path, "a").close()
            os.chown(path, *mysql_ids)
            os.chmod(path, 0o640)
        self._check(["start-stop-daemon", "--start", "--quiet", "--oknodo", "--background",
                     "--pidfile", p.mariadb_pid, "--exec", "/usr/sbin/mariadbd", "--",
                     "--defaults-file=%s" % p.mariadb_cnf, "--user=mysql"], "starting MariaDB")
        wait_for(self.mariadb_ok, 60, what="MariaDB to answer")
        return True

    def ensure_accounting_user(self, password, port):
        """The slurmdbd database user; the password goes on stdin, never on a command line."""
        sql = (
            "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '{pw}';\n"
            "ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{pw}';\n"
            "CREATE DATABASE IF NOT EXISTS slurm_acct_db;\n"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';\n"
        ).format(pw=password.replace("\\", "\\\\").replace("'", "\\'"))
        self._check(["mariadb", "--defaults-file=%s" % self.paths.mariadb_cnf], "creating the accounting user", data=sql)

    # Slurm -----------------------------------------------------------------------------
    def slurmdbd_ok(self):
        return running(self.paths.pid("slurmdbd"))

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
        if not running(self.paths.pid("slurmctld")):
            return False
        return self.run(["scontrol", "ping"], environ_update=self.env)[0] == 0

    def ensure_slurmctld(self):
        if self.slurmctld_ok():
            return False
        if not running(self.paths.pid("slurmctld")):
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
            if stop_pidfile(self.paths.pid(name)):
                stopped.append(name)
        return stopped

    def stop_mariadb(self):
        return stop_pidfile(self.paths.mariadb_pid, timeout=60)

    def stop_munge(self):
        """Only the munged we started (a distro service stays with its owner)."""
        return stop_pidfile(self.paths.pid("munged"))


def _ids(user):
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid
