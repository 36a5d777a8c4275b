# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ParallelCluster's Slurm paths over Debian's Slurm packages.

ParallelCluster's cookbook builds Slurm with ``--prefix=/opt/slurm`` (install_slurm.rb), so its
nodes have ``/opt/slurm/bin``, ``/opt/slurm/sbin``, ``/opt/slurm/lib/slurm`` and the configuration
in ``/opt/slurm/etc``. Debian installs the same programs under /usr and reads /etc/slurm. In the
image ``/opt/slurm/etc`` is the real folder and ``/etc/slurm`` a link to it (so Debian's compiled-in
paths and its units find ParallelCluster's files), and each Slurm program gets a link at its
ParallelCluster path. Pure: the links are planned from the packages' file lists.
"""

from __future__ import annotations

import posixpath

PREFIX = "/opt/slurm"
ETC = PREFIX + "/etc"
DEBIAN_ETC = "/etc/slurm"
SLURM_PROFILE = ETC + "/slurm.sh"
# Debian folder -> ParallelCluster folder whose entries link to each program in it.
WLM_SUFFIX = "-wlm"
PROGRAM_DIRS = (("/usr/bin", PREFIX + "/bin"), ("/usr/sbin", PREFIX + "/sbin"))


def static_links(multiarch):
    """(link, target) pairs that do not depend on the package lists."""
    return [
        (DEBIAN_ETC, ETC),
        (PREFIX + "/lib/slurm", "/usr/lib/%s/slurm-wlm" % multiarch),
        (PREFIX + "/include/slurm", "/usr/include/slurm"),
        (PREFIX + "/share/man", "/usr/share/man"),
    ]


def describe():
    """The layout as data, for the recipe's hash."""
    return {"prefix": PREFIX, "etc": ETC, "debian_etc": DEBIAN_ETC, "program_dirs": [list(p) for p in PROGRAM_DIRS],
            "static_links": [list(p) for p in static_links("<multiarch>")]}


def program_links(package_files):
    """(link, target) for every program the Slurm packages put in /usr/bin or /usr/sbin.

    ``package_files`` is ``dpkg-query -L`` output of those packages (one path a line); anything
    that is not directly in a program folder is ignored. Debian ships the daemons as ``<name>-wlm``
    behind an alternative named ``<name>`` (not in the file lists): both get a link."""
    links = set()
    for line in package_files.splitlines():
        path = line.strip()
        folder, name = posixpath.split(path)
        for debian, ours in PROGRAM_DIRS:
            if folder == debian and name and name not in (".", ".."):
                links.add((posixpath.join(ours, name), path))
                if name.endswith(WLM_SUFFIX) and len(name) > len(WLM_SUFFIX):
                    plain = name[:-len(WLM_SUFFIX)]
                    links.add((posixpath.join(ours, plain), posixpath.join(debian, plain)))
    return sorted(links)
