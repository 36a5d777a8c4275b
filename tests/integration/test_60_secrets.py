"""Secrets on the running recipe cluster: the munge key, the accounting database password and the
key pair's private key have tight modes and owners, and none of them shows in site.yml's output at
-vvv or in any log the cluster writes."""

import glob
import grp
import os
import pwd
import stat

import pytest

from helpers import KEY_PAIR, MUNGE_KEY, SLURMDBD_CONF, cluster_secrets

pytestmark = pytest.mark.integration

LOGS = ("/var/log/hpc-parallelcluster/*", "/run/hpc-parallelcluster-local-cloud/*.log",
        "/opt/parallelcluster/local/*.log", "/var/log/munge/*")

# path: (mode, owner, group or None)
SECRET_FILES = {
    MUNGE_KEY: (0o400, "munge", "munge"),
    SLURMDBD_CONF: (0o600, "slurm", None),
    KEY_PAIR: (0o600, "root", None),
}
SECRET_DIRS = {
    os.path.dirname(KEY_PAIR): (0o700, "root"),
    "/var/spool/hpc-parallelcluster/slurmctld": (0o700, "slurm"),
}


@pytest.mark.parametrize("path", sorted(SECRET_FILES))
def test_secret_files_have_tight_modes_and_owners(cluster, path):
    mode, owner, group = SECRET_FILES[path]
    info = os.stat(path)
    assert stat.S_IMODE(info.st_mode) == mode, "%s is %o" % (path, stat.S_IMODE(info.st_mode))
    assert pwd.getpwuid(info.st_uid).pw_name == owner
    if group:
        assert grp.getgrgid(info.st_gid).gr_name == group


@pytest.mark.parametrize("path", sorted(SECRET_DIRS))
def test_directories_holding_secrets_are_closed(cluster, path):
    mode, owner = SECRET_DIRS[path]
    info = os.stat(path)
    assert stat.S_IMODE(info.st_mode) == mode and pwd.getpwuid(info.st_uid).pw_name == owner


def test_secrets_never_show_in_site_output_at_vvv_nor_in_logs(site_vvv):
    # The secrets of the run (read right after it) and today's, should one have changed since.
    secrets = cluster_secrets()
    secrets.update(("%s at the -vvv run" % name, value) for name, value in site_vvv["secrets"].items())
    output = site_vvv["output"]
    assert "StoragePass" not in output
    leaked = [name for name, value in secrets.items() if value in output]
    assert leaked == [], leaked
    for pattern in LOGS:
        for path in glob.glob(pattern):
            if not os.path.isfile(path):
                continue
            with open(path, errors="replace") as handle:
                text = handle.read()
            leaked = [name for name, value in secrets.items() if value in text]
            assert leaked == [], (path, leaked)
