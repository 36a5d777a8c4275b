"""Secrets on the running recipe cluster: the munge key, the accounting database password and the
key pair's private key have tight modes and owners, and none of them shows in site.yml's output at
-vvv or in any log the cluster writes."""

import base64
import glob
import grp
import os
import pwd
import stat

import pytest

from helpers import ROOT, SITE_ARGS, playbook

pytestmark = pytest.mark.integration

KEY_PAIR = os.path.join(ROOT, "inventories", "local", ".state", "hpc-cluster-keypair.pem")
SLURMDBD_CONF = "/opt/slurm/etc/slurmdbd.conf"
MUNGE_KEY = "/etc/munge/munge.key"
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


def _db_password():
    with open(SLURMDBD_CONF) as handle:
        return [line.split("=", 1)[1].strip() for line in handle if line.startswith("StoragePass=")][0]


def _secret_strings():
    """What must never be printed: the password, the private key's body lines, the munge key."""
    with open(KEY_PAIR) as handle:
        key_lines = [line.strip() for line in handle if line.strip() and not line.startswith("-----")]
    with open(MUNGE_KEY, "rb") as handle:
        munge = handle.read()
    secrets = {"db password": _db_password(), "munge key (base64)": base64.b64encode(munge).decode()[:40],
               "munge key (hex)": munge.hex()[:40]}
    secrets.update(("private key line %d" % i, line) for i, line in enumerate(key_lines[1:-1][:5]))
    assert len(secrets["db password"]) >= 20 and len(key_lines) > 3
    return secrets


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


def test_secrets_never_show_in_site_output_at_vvv_nor_in_logs(cluster):
    secrets = _secret_strings()
    rc, output = playbook("site.yml", "-vvv", *SITE_ARGS, json_output=False)
    assert rc == 0, output[-3000:]
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
