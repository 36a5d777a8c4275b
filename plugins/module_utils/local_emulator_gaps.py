# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settings the local provider refuses because its AWS API emulator cannot hold what they name.

ParallelCluster reads capacity reservations and Amazon File Caches from the account, its schema
already while loading the config; the emulator answers those calls with an internal error, and the
local provider could not use them anyway (it reserves no capacity and mounts no file cache). Such a
setting is refused here, under its field, before pcluster reads the config, instead of failing with
the emulator's error page.
"""

from __future__ import annotations

CAPACITY = ("the AWS API emulator has no capacity reservations (it answers DescribeCapacityReservations with an "
            "internal error) and the local provider reserves no capacity, so ParallelCluster cannot check it here; "
            "remove it, or use provider aws")
FILE_CACHE = ("the AWS API emulator has no Amazon File Cache API and the local provider mounts no file cache, so "
              "ParallelCluster's ExistingFsxNetworkingValidator cannot check it here; remove it, or use provider aws")


def _dicts(value):
    return value if isinstance(value, dict) else {}


def _lists(value):
    return value if isinstance(value, list) else []


def emulator_gaps(config):
    """(field, message) pairs for the settings of ``config`` that name what the emulator cannot hold."""
    found = []
    for qi, queue in enumerate(_lists(_dicts(_dicts(config).get("Scheduling")).get("SlurmQueues"))):
        queue = _dicts(queue)
        base = "Scheduling.SlurmQueues[%d]" % qi
        if queue.get("CapacityReservationTarget"):
            found.append((base + ".CapacityReservationTarget", CAPACITY))
        if queue.get("CapacityType") == "CAPACITY_BLOCK":
            found.append((base + ".CapacityType", "CAPACITY_BLOCK: " + CAPACITY))
        for ci, compute_resource in enumerate(_lists(queue.get("ComputeResources"))):
            if _dicts(compute_resource).get("CapacityReservationTarget"):
                found.append(("%s.ComputeResources[%d].CapacityReservationTarget" % (base, ci), CAPACITY))
    for index, storage in enumerate(_lists(_dicts(config).get("SharedStorage"))):
        if _dicts(storage).get("StorageType") == "FileCache":
            found.append(("SharedStorage[%d].StorageType" % index, "FileCache: " + FILE_CACHE))
    return found
