"""ParallelCluster's /opt/slurm over Debian's packages: every Slurm program gets a link, the daemons
behind Debian's alternatives too, and nothing that is not a program does."""

from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_layout as layout

DPKG_L = """\
/.
/usr
/usr/bin
/usr/bin/sinfo
/usr/bin/srun
/usr/sbin
/usr/sbin/slurmctld-wlm
/usr/sbin/slurmdbd
/usr/share/doc/slurmctld/copyright
/usr/lib/x86_64-linux-gnu/slurm-wlm/auth_munge.so
/usr/bin/nested/tool
"""


def test_program_links():
    assert layout.program_links(DPKG_L) == [
        ("/opt/slurm/bin/sinfo", "/usr/bin/sinfo"),
        ("/opt/slurm/bin/srun", "/usr/bin/srun"),
        ("/opt/slurm/sbin/slurmctld", "/usr/sbin/slurmctld"),
        ("/opt/slurm/sbin/slurmctld-wlm", "/usr/sbin/slurmctld-wlm"),
        ("/opt/slurm/sbin/slurmdbd", "/usr/sbin/slurmdbd"),
    ]


def test_folders_are_not_programs():
    assert layout.program_links("/usr/bin\n/usr/sbin\n/usr/bin/\n") == []


def test_static_links():
    links = dict(layout.static_links("x86_64-linux-gnu"))
    assert links["/etc/slurm"] == "/opt/slurm/etc"
    assert links["/opt/slurm/lib/slurm"] == "/usr/lib/x86_64-linux-gnu/slurm-wlm"
    assert layout.SLURM_PROFILE == "/opt/slurm/etc/slurm.sh"
