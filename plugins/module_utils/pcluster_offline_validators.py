# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""aws-parallelcluster's own create-time validators that need no AWS call, run on a loaded config.

``pcluster create-cluster`` runs its validators on the objects its schema builds; most of the
shared storage and sizing ones only look at the configuration. They are called here the way
pcluster's config classes register them, so that both providers refuse what ParallelCluster
refuses, with pcluster's own words, under the field they are about. Validators that call AWS
(bucket, snapshot, KMS key or volume look-ups) are left to pcluster itself.
"""

from __future__ import annotations

from collections import defaultdict

try:
    from pcluster.config.cluster_config import (
        ExistingFileCache,
        ExistingFsxOntap,
        ExistingFsxOpenZfs,
        SharedEbs,
        SharedEfs,
        SharedFsxLustre,
    )
    from pcluster.constants import MAX_EBS_COUNT, MAX_EXISTING_STORAGE_COUNT, MAX_NEW_STORAGE_COUNT
    from pcluster.utils import get_url_scheme
    from pcluster.validators.cluster_validators import (
        ComputeResourceSizeValidator,
        DuplicateMountDirValidator,
        DuplicateNameValidator,
        NumberOfStorageValidator,
        OverlappingMountDirValidator,
        SharedFileCacheNotHomeValidator,
        SharedStorageMountDirValidator,
        SharedStorageNameValidator,
    )
    from pcluster.validators.common import FailureLevel, ValidationResult, ValidatorContext
    from pcluster.validators.ebs_validators import (
        EbsVolumeIopsValidator,
        EbsVolumeThroughputIopsValidator,
        EbsVolumeThroughputValidator,
        EbsVolumeTypeSizeValidator,
    )
    from pcluster.validators.efs_validators import EfsAccessPointOptionsValidator, EfsMountOptionsValidator
    from pcluster.validators.fsx_validators import (
        FsxBackupOptionsValidator,
        FsxDraValidator,
        FsxPersistentOptionsValidator,
        FsxS3Validator,
        FsxStorageCapacityValidator,
        FsxStorageTypeOptionsValidator,
    )
    from pcluster.validators.s3_validators import S3BucketUriValidator
except ImportError:
    HAS_PCLUSTER = False
else:
    HAS_PCLUSTER = True

    # Validators pcluster registers on a shared storage item that only look at the configuration.
    # S3BucketUriValidator asks S3 about s3:// URIs, so it runs here only for other schemes.
    _OFFLINE_STORAGE_VALIDATORS = (
        EbsVolumeTypeSizeValidator, EbsVolumeIopsValidator, EbsVolumeThroughputValidator,
        EbsVolumeThroughputIopsValidator, SharedStorageNameValidator, SharedFileCacheNotHomeValidator,
        EfsMountOptionsValidator, EfsAccessPointOptionsValidator, FsxDraValidator, FsxS3Validator,
        FsxPersistentOptionsValidator, FsxBackupOptionsValidator, FsxStorageTypeOptionsValidator,
        FsxStorageCapacityValidator,
    )

# The settings section of each StorageType, where most storage validators' findings belong.
SETTINGS_KEYS = {
    "Ebs": "EbsSettings", "Efs": "EfsSettings", "FsxLustre": "FsxLustreSettings",
    "FsxOpenZfs": "FsxOpenZfsSettings", "FsxOntap": "FsxOntapSettings", "FileCache": "FileCacheSettings",
}
_URL_FIELDS = (("import_path", "ImportPath"), ("export_path", "ExportPath"))


def _failures(validator_class, **kwargs):
    """pcluster's ERROR-level messages (what fails ``pcluster create-cluster``) of one validator."""
    found = []
    try:
        failures = validator_class().execute(**kwargs)
    except Exception as exc:  # pylint: disable=broad-except
        # As pcluster's Resource._validator_execute_sync: a validator that fails is an ERROR.
        failures = [ValidationResult(str(exc) or type(exc).__name__, FailureLevel.ERROR, validator_class.__name__)]
    for failure in failures:
        if failure.level == FailureLevel.ERROR:
            message = str(failure.message)
            if message.startswith("Error: "):
                message = message[len("Error: "):]
            found.append("%s (ParallelCluster's %s)" % (message.strip().rstrip("."), validator_class.__name__))
    return found


def _storage_field(base, storage_type, validator_class, args):
    if validator_class in (SharedStorageNameValidator,):
        return base + ".Name"
    if validator_class in (SharedFileCacheNotHomeValidator, SharedStorageMountDirValidator):
        return base + ".MountDir"
    settings = "%s.%s" % (base, SETTINGS_KEYS.get(storage_type, "Settings"))
    if validator_class is S3BucketUriValidator:
        return "%s.%s" % (settings, args["field"])
    return settings


def _storage_item(index, storage, raw_type):
    """What pcluster's own validators of one SharedStorage item say, as (field, message) pairs."""
    base = "SharedStorage[%d]" % index
    found = []
    storage._validators.clear()  # pylint: disable=protected-access
    storage._register_validators(ValidatorContext())  # pylint: disable=protected-access
    registered = list(storage._validators)  # pylint: disable=protected-access
    storage._validators.clear()  # pylint: disable=protected-access
    for validator_class, args in registered:
        if validator_class in _OFFLINE_STORAGE_VALIDATORS:
            for message in _failures(validator_class, **args):
                found.append((_storage_field(base, raw_type, validator_class, args), message))
    for attribute, key in _URL_FIELDS if isinstance(storage, SharedFsxLustre) else ():
        url = getattr(storage, attribute, None)
        if url and get_url_scheme(url) != "s3":
            for message in _failures(S3BucketUriValidator, url=url):
                found.append((_storage_field(base, raw_type, S3BucketUriValidator, {"field": key}), message))
    for message in _failures(SharedStorageMountDirValidator, mount_dir=storage.mount_dir):
        found.append((base + ".MountDir", message))
    return found


def _storage_counts(items):
    """pcluster's count of EBS volumes and of new and existing file systems (its _register_storage_validators)."""
    ebs_count = 0
    new, existing = defaultdict(int), defaultdict(int)
    for storage in items:
        if isinstance(storage, SharedFsxLustre):
            (existing if storage.file_system_id else new)["fsx"] += 1
        elif isinstance(storage, (ExistingFsxOpenZfs, ExistingFsxOntap, ExistingFileCache)):
            existing["fsx"] += 1
        elif isinstance(storage, SharedEbs):
            if storage.raid:
                new["raid"] += 1
            else:
                ebs_count += 1
        elif isinstance(storage, SharedEfs):
            (existing if storage.file_system_id else new)["efs"] += 1
    found = []
    for kind in ("EFS", "FSx", "RAID"):
        for label, limits, counts in (("new", MAX_NEW_STORAGE_COUNT, new), ("existing", MAX_EXISTING_STORAGE_COUNT,
                                                                            existing)):
            found.extend(_failures(NumberOfStorageValidator, storage_type="%s %s" % (label, kind),
                                   max_number=limits.get(kind.lower()), storage_count=counts[kind.lower()]))
    found.extend(_failures(NumberOfStorageValidator, storage_type="EBS", max_number=MAX_EBS_COUNT,
                           storage_count=ebs_count))
    return [("SharedStorage", message) for message in found]


def _storage_id(storage):
    """The ID an item names, as pcluster's existing_storage_id_list reads it (an FSx volume's own
    ``file_system_id`` would ask AWS)."""
    if isinstance(storage, (SharedEfs, SharedFsxLustre)):
        return storage.file_system_id or None
    if isinstance(storage, (SharedEbs, ExistingFsxOpenZfs, ExistingFsxOntap)):
        return storage.volume_id or None
    if isinstance(storage, ExistingFileCache):
        return storage.file_cache_id or None
    return None


def _later_duplicates(values):
    """Indexes of the items whose value an earlier item already has."""
    seen = set()
    later = []
    for index, value in enumerate(values):
        if value is None:
            continue
        if value in seen:
            later.append(index)
        seen.add(value)
    return later


def shared_storage_findings(loaded, raw_items):
    """pcluster's offline verdict on ``SharedStorage``: (field, message) pairs, empty when it accepts.

    ``loaded`` is the object pcluster's ClusterSchema built; ``raw_items`` the SharedStorage list
    as written, for the field paths.
    """
    items = list(getattr(loaded, "shared_storage", None) or [])
    if not items:
        return []
    found = []
    names = [storage.name for storage in items]
    for message in _failures(DuplicateNameValidator, name_list=names, resource_name="Shared Storage"):
        found.extend(("SharedStorage[%d].Name" % index, message) for index in _later_duplicates(names))
    ids = [_storage_id(storage) for storage in items]
    for message in _failures(DuplicateNameValidator, name_list=[i for i in ids if i], resource_name="Shared Storage IDs"):
        found.extend(("SharedStorage[%d]" % index, message) for index in _later_duplicates(ids))
    for index, storage in enumerate(items):
        raw = raw_items[index] if index < len(raw_items) and isinstance(raw_items[index], dict) else {}
        found.extend(_storage_item(index, storage, raw.get("StorageType")))
    found.extend(_storage_counts(items))
    mount_dirs = [storage.mount_dir for storage in items]
    for message in _failures(DuplicateMountDirValidator,
                             shared_storage_name_mount_dir_tuple_list=list(zip(names, mount_dirs)),
                             local_mount_dir_instance_types_dict={}):
        found.extend(("SharedStorage[%d].MountDir" % index, message) for index in _later_duplicates(mount_dirs))
    # As pcluster 3.15's _validate_mount_dirs calls it: the first item of each (name, mount dir)
    # pair, which is the name, so it refuses overlapping names, never overlapping mount dirs.
    pcluster_list = [first for first, dummy in zip(names, mount_dirs)]
    for message in _failures(OverlappingMountDirValidator, shared_mount_dir_list=pcluster_list,
                             local_mount_dir_list=[]):
        for index, value in enumerate(pcluster_list):
            if any(other.startswith(value + "/") or value.startswith(other + "/") for other in pcluster_list):
                found.append(("SharedStorage[%d].Name" % index, message))
    return found


def overlapping_mount_dirs(mount_dirs):
    """{index: [the other mount dirs it contains or lies in]} for the mount dirs that overlap another."""
    strings = [m if isinstance(m, str) and m else None for m in mount_dirs]
    found = {}
    for index, mount_dir in enumerate(strings):
        others = [other for other in strings if other and mount_dir
                  and (other.startswith(mount_dir + "/") or mount_dir.startswith(other + "/"))]
        if others:
            found[index] = others
    return found


def compute_resource_findings(loaded):
    """pcluster's ComputeResourceSizeValidator on every Slurm compute resource, by field path."""
    found = []
    scheduling = getattr(loaded, "scheduling", None)
    for qi, queue in enumerate(getattr(scheduling, "queues", None) or []):
        for ci, compute_resource in enumerate(getattr(queue, "compute_resources", None) or []):
            if not hasattr(compute_resource, "min_count"):
                continue  # an AWS Batch compute resource counts vCPUs
            field = "Scheduling.SlurmQueues[%d].ComputeResources[%d].MaxCount" % (qi, ci)
            for message in _failures(ComputeResourceSizeValidator, min_count=compute_resource.min_count,
                                     max_count=compute_resource.max_count,
                                     capacity_type=getattr(queue, "capacity_type", None)):
                found.append((field, message))
    return found
