# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ParallelCluster cluster configuration: loading, validation and defaults.

Validation first refuses input that would crash or mislead what reads it (config_input), then
runs aws-parallelcluster's own marshmallow schema, which needs no AWS call, so that both providers
accept exactly the YAML that ``pcluster create-cluster`` accepts. pcluster performs its remaining
checks as validators at create time, mixed with validators that call AWS; the offline ones are run
as pcluster runs them (pcluster_offline_validators) or, for the Slurm layout, repeated here, so
that a bad config fails before anything is created, with every problem listed under its field path.
The local provider turns each shared storage MountDir into a world-writable folder on this
machine, so it also refuses folders that belong to the system or to the cluster.
"""

from __future__ import annotations

import copy
import os
import posixpath
import re
import traceback

from ansible_collections.hpc.parallelcluster.plugins.module_utils import config_input
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_emulator_gaps import emulator_gaps
from ansible_collections.hpc.parallelcluster.plugins.module_utils import pcluster_offline_validators as offline
from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_conf_include
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths

try:
    import yaml
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

try:
    from marshmallow import ValidationError as _SchemaValidationError
    from pcluster.constants import MAX_COMPUTE_RESOURCES_PER_QUEUE as _MAX_CRS_PER_QUEUE
    from pcluster.constants import MAX_NUMBER_OF_COMPUTE_RESOURCES_PER_CLUSTER as _MAX_CRS_PER_CLUSTER
    from pcluster.constants import MAX_NUMBER_OF_QUEUES as _MAX_QUEUES
    from pcluster.constants import PCLUSTER_NAME_MAX_LENGTH as _CLUSTER_NAME_MAX
    from pcluster.constants import PCLUSTER_NAME_MAX_LENGTH_SLURM_ACCOUNTING as _CLUSTER_NAME_MAX_ACCOUNTING
    from pcluster.constants import PCLUSTER_NAME_REGEX as _CLUSTER_NAME_REGEX
    from pcluster.schemas.cluster_schema import ClusterSchema as _ClusterSchema
    from pcluster.validators.cluster_validators import NAME_MAX_LENGTH as _NAME_MAX
    from pcluster.validators.cluster_validators import NAME_REGEX as _NAME_REGEX
    from pcluster.validators.slurm_settings_validator import SLURM_SETTINGS_DENY_LIST
except ImportError:
    HAS_PCLUSTER = False
    PCLUSTER_IMPORT_ERROR = traceback.format_exc()
    SLURM_SETTINGS_DENY_LIST = None
else:
    HAS_PCLUSTER = True
    PCLUSTER_IMPORT_ERROR = None

PCLUSTER_VERSION = "3"
if HAS_PCLUSTER:
    try:
        from importlib import metadata as _metadata
        PCLUSTER_VERSION = _metadata.version("aws-parallelcluster")
    except Exception:  # pylint: disable=broad-except
        pass


# ParallelCluster's documented defaults (pcluster.constants DEFAULT_MIN_COUNT / DEFAULT_MAX_COUNT /
# NODE_BOOTSTRAP_TIMEOUT and the init_param defaults in pcluster.config.cluster_config), kept here
# so that the layout works without importing pcluster; a unit test checks them against pcluster.
DEFAULT_MIN_COUNT = 0
DEFAULT_MAX_COUNT = 10
DEFAULT_SCALEDOWN_IDLETIME = 10
DEFAULT_STATIC_NODE_PRIORITY = 1
DEFAULT_DYNAMIC_NODE_PRIORITY = 1000
DEFAULT_COMPUTE_NODE_BOOTSTRAP_TIMEOUT = 2100

# The most nodes one Slurm hostlist range holds (hostlist.c MAX_RANGE): the static and the dynamic
# nodes of a compute resource are each one range, q-st-cr-[1-MinCount] and q-dy-cr-[1-(MaxCount - MinCount)].
MAX_SLURM_NODE_RANGE = 64 * 1024

# Slurm reads ResumeTimeout, which ComputeNodeBootstrapTimeout becomes, as a 16-bit number:
# slurmctld and every Slurm command stop at a larger one ("is greater than 65535").
MAX_SLURM_RESUME_TIMEOUT = 65535

# The longest node name Slurm and Linux accept: MAX_SLURM_NAME and HOST_NAME_MAX are 64 bytes
# including the terminating NUL, and a node name becomes the compute node's host name.
MAX_NODE_NAME_LENGTH = 63

PROVIDERS = ("local", "aws")

_DENY_HINTS = {
    "suspendtime": "set Scheduling.SlurmSettings.ScaledownIdletime (minutes) instead",
    "resumetimeout": "set DevSettings.Timeouts.ComputeNodeBootstrapTimeout instead",
    "cpus": "the value comes from the instance type and DisableSimultaneousMultithreading",
    "weight": "set StaticNodePriority / DynamicNodePriority on the compute resource instead",
}


def _printable(text):
    """``text`` with control characters spelt as escapes: a bad key or value must not break the report's lines."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda match: repr(match.group())[1:-1], str(text))


class ClusterConfigError(Exception):
    """Every problem found in a cluster config, as ``(field, message)`` pairs."""

    def __init__(self, errors):
        self.errors = [(_printable(field), _printable(message)) for field, message in errors]
        super().__init__(str(self))

    def __str__(self):
        return "\n".join("%s: %s" % (field, message) for field, message in self.errors)


class _UniqueKeyLoader(yaml.SafeLoader if HAS_YAML else object):
    """SafeLoader that rejects a key given twice in one mapping instead of keeping the last."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, dummy in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged from an anchor may be overridden
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:
                first = None
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found duplicate key %r (first defined on line %d)" % (key, first.line + 1),
                    key_node.start_mark)
            try:
                seen[key] = key_node.start_mark
            except TypeError:
                pass
        return super().construct_mapping(node, deep=deep)


if HAS_YAML:
    # Its own constructor table, with SafeLoader's mapping constructor: pcluster's yaml_load replaces the
    # mapping constructor of yaml.SafeLoader itself (process-wide, without merge keys), which this
    # subclass would otherwise share once pcluster has been used in the same process.
    _UniqueKeyLoader.add_constructor("tag:yaml.org,2002:map", yaml.SafeLoader.construct_yaml_map)


def _yaml_error_message(source, exc):
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = source
    if mark is not None:
        where = "%s line %d column %d" % (source, mark.line + 1, mark.column + 1)
    text = "%s: %s" % (where, problem)
    if context:
        text += " (%s)" % context
    return text + "; fix it there"


def _parse_yaml(text, source, field):
    if not HAS_YAML:
        raise ClusterConfigError([(field, "PyYAML is required to read %s" % source)])
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # nosec B506: a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ClusterConfigError([(field, _yaml_error_message(source, exc))]) from None
    except RecursionError:
        raise ClusterConfigError([(field, "%s is nested deeper than a YAML reader can follow; a ParallelCluster "
                                          "configuration nests about ten levels, so remove the extra levels"
                                   % source)]) from None
    shape = config_input.shape_errors(data, field)
    if shape:
        raise ClusterConfigError([(f, "%s: %s" % (source, m)) for f, m in shape])
    if data is None:
        raise ClusterConfigError([(field, "%s is empty; it must hold a ParallelCluster cluster configuration" % source)])
    if not isinstance(data, dict):
        raise ClusterConfigError([(field, "%s must hold a mapping (Region, Image, HeadNode, Scheduling, ...), not a %s"
                                   % (source, type(data).__name__))])
    return data


def load_cluster_config(config=None, config_file=None):
    """Return the cluster config as a new dict, from ``config`` (a dict or YAML text) or ``config_file``."""
    if (config is None) == (config_file is None):
        raise ClusterConfigError([("config", "give exactly one of config (the cluster configuration) or config_file "
                                             "(a path to its YAML file)")])
    if config_file is not None:
        path = os.fspath(config_file)
        try:
            with open(path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ClusterConfigError([("config_file", "cannot read %s: %s; check the path and its permissions"
                                       % (path, reason))]) from None
        return _parse_yaml(text, path, "config_file")
    if isinstance(config, str):
        return _parse_yaml(config, "config", "config")
    if not isinstance(config, dict):
        raise ClusterConfigError([("config", "must be a mapping (Region, Image, HeadNode, Scheduling, ...), not a %s"
                                   % type(config).__name__)])
    shape = config_input.shape_errors(config)
    if shape:
        raise ClusterConfigError(shape)
    return copy.deepcopy(config)


# ---------------------------------------------------------------- config access with defaults


def _as_list(value):
    return value if isinstance(value, list) else []


def _as_dict(value):
    return value if isinstance(value, dict) else {}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def slurm_settings(config):
    """``Scheduling.SlurmSettings`` with ParallelCluster's defaults filled in (a new dict)."""
    settings = copy.deepcopy(_as_dict(_as_dict(config.get("Scheduling")).get("SlurmSettings")))
    settings.setdefault("ScaledownIdletime", DEFAULT_SCALEDOWN_IDLETIME)
    settings.setdefault("EnableMemoryBasedScheduling", False)
    settings.setdefault("CustomSlurmSettings", [])
    return settings


def compute_resource_with_defaults(compute_resource):
    """A compute resource dict with ParallelCluster's defaults filled in (a new dict)."""
    cr = copy.deepcopy(compute_resource)
    cr.setdefault("MinCount", DEFAULT_MIN_COUNT)
    cr.setdefault("MaxCount", DEFAULT_MAX_COUNT)
    cr.setdefault("DisableSimultaneousMultithreading", False)
    efa = cr["Efa"] = dict(_as_dict(cr.get("Efa")))
    efa.setdefault("Enabled", False)
    efa.setdefault("GdrSupport", False)
    cr.setdefault("StaticNodePriority", DEFAULT_STATIC_NODE_PRIORITY)
    cr.setdefault("DynamicNodePriority", DEFAULT_DYNAMIC_NODE_PRIORITY)
    cr.setdefault("CustomSlurmSettings", {})
    return cr


def slurm_queues(config):
    """The Slurm queues in config order, each with its compute resources' defaults filled in."""
    queues = []
    for queue in _as_list(_as_dict(config.get("Scheduling")).get("SlurmQueues")):
        queue = copy.deepcopy(_as_dict(queue))
        queue["ComputeResources"] = [compute_resource_with_defaults(_as_dict(cr))
                                     for cr in _as_list(queue.get("ComputeResources"))]
        queue.setdefault("CustomSlurmSettings", {})
        queues.append(queue)
    return queues


def iter_compute_resources(config):
    """Yield ``(queue_index, queue, cr_index, compute_resource)`` in config order, defaults applied."""
    for qi, queue in enumerate(slurm_queues(config)):
        for ci, cr in enumerate(queue["ComputeResources"]):
            yield qi, queue, ci, cr


def compute_resource_instance_types(compute_resource):
    """The instance types a compute resource may launch (``InstanceType`` or ``Instances``)."""
    if compute_resource.get("Instances"):
        return [item.get("InstanceType") for item in _as_list(compute_resource["Instances"]) if isinstance(item, dict)]
    if compute_resource.get("InstanceType"):
        return [compute_resource["InstanceType"]]
    return []


def compute_node_bootstrap_timeout(config):
    """Seconds a compute node may take to boot: ParallelCluster's Slurm ``ResumeTimeout``."""
    timeouts = _as_dict(_as_dict(config.get("DevSettings")).get("Timeouts"))
    value = timeouts.get("ComputeNodeBootstrapTimeout")
    return value if _is_int(value) else DEFAULT_COMPUTE_NODE_BOOTSTRAP_TIMEOUT


def accounting_configured(config):
    """True when the config asks for Slurm accounting (``Database`` or ``ExternalSlurmdbd``)."""
    settings = _as_dict(_as_dict(config.get("Scheduling")).get("SlurmSettings"))
    return bool(settings.get("Database") or settings.get("ExternalSlurmdbd"))


def instance_type_fields(config):
    """Map each instance type the config names to the field paths that name it."""
    fields = {}

    def add(name, field):
        if isinstance(name, str) and name:
            fields.setdefault(name, []).append(field)

    add(_as_dict(config.get("HeadNode")).get("InstanceType"), "HeadNode.InstanceType")
    for qi, queue in enumerate(_as_list(_as_dict(config.get("Scheduling")).get("SlurmQueues"))):
        for ci, cr in enumerate(_as_list(_as_dict(queue).get("ComputeResources"))):
            base = "Scheduling.SlurmQueues[%d].ComputeResources[%d]" % (qi, ci)
            cr = _as_dict(cr)
            add(cr.get("InstanceType"), base + ".InstanceType")
            for ii, item in enumerate(_as_list(cr.get("Instances"))):
                add(_as_dict(item).get("InstanceType"), "%s.Instances[%d].InstanceType" % (base, ii))
    for pi, pool in enumerate(_as_list(_as_dict(config.get("LoginNodes")).get("Pools"))):
        add(_as_dict(pool).get("InstanceType"), "LoginNodes.Pools[%d].InstanceType" % pi)
    return fields


# ---------------------------------------------------------------- validation


_PATH_CONTEXT = re.compile(r"^Scheduling\.SlurmQueues\[(\d+)\](?:\.ComputeResources\[(\d+)\])?")


def _name_at(items, index):
    items = _as_list(items)
    if index < len(items) and isinstance(items[index], dict) and isinstance(items[index].get("Name"), str):
        return items[index]["Name"]
    return None


def _where(config, field):
    """Describe the queue / compute resource a field path points into, by name."""
    match = _PATH_CONTEXT.match(field)
    if not match:
        return ""
    queues = _as_dict(config.get("Scheduling")).get("SlurmQueues")
    qi = int(match.group(1))
    queue_name = _name_at(queues, qi)
    queue_text = "queue '%s'" % queue_name if queue_name else "queue #%d" % qi
    if match.group(2) is None:
        return queue_text
    ci = int(match.group(2))
    crs = _as_dict(_as_list(queues)[qi]).get("ComputeResources") if qi < len(_as_list(queues)) else None
    cr_name = _name_at(crs, ci)
    cr_text = "compute resource '%s'" % cr_name if cr_name else "compute resource #%d" % ci
    return "%s of %s" % (cr_text, queue_text)


def _join(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return "%s.%s" % (path, key) if path else str(key)


def _flatten_schema_messages(messages, path=""):
    """Turn marshmallow's nested error dict into ``(field path, message)`` pairs."""
    found = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                found.extend(_flatten_schema_messages(value, path))
            else:
                if isinstance(key, str) and key.isdigit():
                    key = int(key)
                found.extend(_flatten_schema_messages(value, _join(path, key)))
    elif isinstance(messages, (list, tuple)):
        for value in messages:
            found.extend(_flatten_schema_messages(value, path))
    else:
        found.append((path or "config", str(messages)))
    return found


def _schema_message(message):
    if message == "Unknown field.":
        return ("Unknown field: ParallelCluster %s has no such key here; remove it or correct its spelling "
                "(see the ParallelCluster cluster configuration reference)" % PCLUSTER_VERSION)
    if message == "Missing data for required field.":
        return "required field is missing; add it"
    return message.rstrip(".")


class _ErrorList(object):
    def __init__(self, config):
        self.config = config
        self.errors = []

    def add(self, field, message):
        where = _where(self.config, field)
        if where:
            message = "%s: %s" % (where, message)
        item = (field, message)
        if item not in self.errors:
            self.errors.append(item)

    def has_field(self, field):
        return any(existing == field for existing, dummy in self.errors)


def _schema_input(config):
    """The config as given to pcluster's schema, minus what makes the schema crash.

    ParallelCluster 3.15's schema raises TypeError (not a validation error) on a Slurm queue without
    ``ComputeResources``; such a queue is reported by our own check, so the schema sees an empty list.
    """
    data = copy.deepcopy(config)
    for queue in _as_list(_as_dict(data.get("Scheduling")).get("SlurmQueues")):
        if isinstance(queue, dict) and "ComputeResources" not in queue:
            queue["ComputeResources"] = []
    return data


def _run_schema(config, cluster_name, region, errors):
    """Add the schema's errors; return ``(loaded config, None)``, or ``(None, exception)`` if the schema crashed."""
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        return _ClusterSchema(cluster_name=cluster_name).load(_schema_input(config)), None
    except _SchemaValidationError as exc:
        for field, message in _flatten_schema_messages(exc.messages):
            errors.add(field, _schema_message(message))
    except Exception as exc:  # pylint: disable=broad-except
        # The schema's post_load hooks build pcluster objects and can fail on shapes that its
        # field validation let through.
        return None, exc
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved
    return None, None


def _add_new_fields(found, errors):
    """Add findings for fields not already reported (one verdict per field, the first check's words)."""
    reported = {field for field, dummy in errors.errors}
    for field, message in found:
        if field not in reported:
            errors.add(field, message)


# ---------------------------------------------------------------- shared storage on this machine

# The local provider creates each MountDir on the head node and makes it world-writable (1777),
# so a folder the system, Slurm or the provider itself owns must never be one, nor lie under one.
# ParallelCluster refuses some of them as the mount point itself (SharedStorageMountDirValidator);
# on a real head node the shared file system is mounted over the folder, which changes nothing
# beneath it, so pcluster has no reason to refuse what lies under them.
_SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/lost+found",
                   "/proc", "/root", "/run", "/sbin", "/snap", "/sys", "/tmp", "/usr", "/var",
                   "/opt/slurm", "/opt/parallelcluster", "/opt/intel")
_SYSTEM_MOUNT_POINTS = ("/", "/opt", "/mnt", "/media", "/srv")


def _protected_folders():
    paths = LocalPaths()
    own = (paths.slurm_etc, paths.node_package, paths.state, paths.spool, paths.run, paths.log,
           os.path.dirname(paths.etc_slurm_link))
    return tuple(sorted(set(_SYSTEM_FOLDERS + own)))


def _local_mount_dir_problem(mount_dir):
    """Why the local provider must not make ``mount_dir`` a world-writable folder, or None."""
    if not mount_dir.startswith("/"):
        return ("the local provider would create '%s' relative to its working directory; write it as an absolute "
                "path such as '/%s' (ParallelCluster reads it that way)" % (mount_dir, mount_dir))
    normal = posixpath.normpath(mount_dir)
    if normal != mount_dir:
        return "write the path in its plain form '%s' (no '.', '..', repeated or trailing '/')" % normal
    if mount_dir in _SYSTEM_MOUNT_POINTS:
        return ("%s is a system folder; the local provider makes a mount directory world-writable (mode 1777), so "
                "choose a folder of its own such as /shared" % mount_dir)
    for folder in _protected_folders():
        if mount_dir == folder or mount_dir.startswith(folder + "/"):
            where = mount_dir if mount_dir == folder else "%s is under %s, which" % (mount_dir, folder)
            return ("%s belongs to the system or to the cluster itself; the local provider makes a mount directory "
                    "world-writable (mode 1777), so choose a folder of its own such as /shared" % where)
    real = os.path.realpath(mount_dir)
    if real != mount_dir:
        return ("%s leads through a symbolic link to %s; the local provider would change the folder the link points "
                "to, so name a real folder" % (mount_dir, real))
    return None


def _check_shared_storage(config, provider, errors):
    """The project's own MountDir rules for what the local provider turns into a folder on this machine."""
    if provider != "local":
        return
    items = _as_list(config.get("SharedStorage"))
    mount_dirs = [_as_dict(storage).get("MountDir") for storage in items]
    for index, mount_dir in enumerate(mount_dirs):
        field = "SharedStorage[%d].MountDir" % index
        if isinstance(mount_dir, str) and mount_dir and not errors.has_field(field):
            problem = _local_mount_dir_problem(mount_dir)
            if problem:
                errors.add(field, problem)
    # ParallelCluster means to refuse nested mount dirs (OverlappingMountDirValidator) but 3.15 hands
    # it the storage names. Here one would be a folder inside a world-writable one, which any user
    # could have replaced with a link before the provider creates it.
    for index, others in offline.overlapping_mount_dirs(mount_dirs).items():
        field = "SharedStorage[%d].MountDir" % index
        if not errors.has_field(field):
            errors.add(field, "%s overlaps %s; the local provider makes each MountDir world-writable, so a nested one "
                              "could be replaced by any user before it is created; use folders side by side such as "
                              "/shared and /fsx" % (mount_dirs[index], ", ".join(others)))


def _check_cluster_name(cluster_name, accounting, errors):
    limit = _CLUSTER_NAME_MAX_ACCOUNTING if accounting else _CLUSTER_NAME_MAX
    if not isinstance(cluster_name, str) or not re.match(_CLUSTER_NAME_REGEX % (limit - 1), cluster_name):
        why = " (Slurm accounting names database tables after the cluster)" if accounting else ""
        errors.add("ClusterName", "invalid cluster name %r: it must start with a letter, contain only letters, digits "
                                  "and hyphens, and be at most %d characters long%s"
                                  % (cluster_name, limit, why))


def _check_name(field, name, kind, errors):
    if not isinstance(name, str):
        return
    if not re.match(_NAME_REGEX, name):
        errors.add(field, "invalid %s name '%s': it must begin with a lowercase letter and contain only lowercase "
                          "letters, digits and hyphens" % (kind, name))
    if len(name) > _NAME_MAX:
        errors.add(field, "%s name '%s' is %d characters long; shorten it to at most %d"
                          % (kind, name, len(name), _NAME_MAX))
    if name == "default":
        errors.add(field, "'default' is reserved by Slurm; choose another %s name" % kind)


def _check_duplicates(items, base, kind, errors):
    first = {}
    for index, item in enumerate(items):
        name = _as_dict(item).get("Name")
        if not isinstance(name, str):
            continue
        if name in first:
            errors.add("%s[%d].Name" % (base, index), "%s name '%s' is already used by %s[%d]; %s names must be unique"
                       % (kind, name, base, first[name], kind))
        else:
            first[name] = index


def _check_custom_settings(settings, field, level, deny, errors, multi_key_entries_allowed=False):
    """Check one CustomSlurmSettings mapping against ParallelCluster's deny list for its level."""
    if not isinstance(settings, dict):
        return
    if multi_key_entries_allowed and len(settings) > 1:
        # A node, node set or partition definition of the user's own: pcluster does not check
        # its keys, but its names must not look like the nodes ParallelCluster manages.
        for key, value in settings.items():
            if isinstance(key, str) and key.lower() == "nodename" and ("-st-" in str(value) or "-dy-" in str(value)):
                errors.add("%s.%s" % (field, key), "custom node name '%s' contains '-st-' or '-dy-', which are reserved "
                                                   "for nodes managed by ParallelCluster; rename it" % value)
    else:
        for key in settings:
            if isinstance(key, str) and key.lower() in deny:
                hint = _DENY_HINTS.get(key.lower())
                errors.add("%s.%s" % (field, key), "'%s' is managed by ParallelCluster and cannot be set in "
                                                   "CustomSlurmSettings at %s level; remove it%s"
                           % (key, level, "; " + hint if hint else ""))
    for key, value in settings.items():
        if isinstance(value, (list, tuple)):
            # The Slurm layout writes a value as str(value): a list would land as "['a', 'b']".
            problem = ("the value of %s must be a single-line scalar, as it is written to slurm.conf as %s=<value>; "
                       "for several items write them comma-separated in one string" % (key, key))
        elif value is None:
            problem = "%s has no value; give it one or remove the key" % key
        else:
            problem = slurm_conf_include.setting_problem(key, value)
        if problem and not errors.has_field("%s.%s" % (field, key)):
            errors.add("%s.%s" % (field, key), problem)


def _check_slurm_settings(config, accounting, errors):
    scheduling = _as_dict(config.get("Scheduling"))
    settings = _as_dict(scheduling.get("SlurmSettings"))
    base = "Scheduling.SlurmSettings"
    cluster_deny = list(SLURM_SETTINGS_DENY_LIST["SlurmConf"]["Global"])
    if accounting:
        cluster_deny += SLURM_SETTINGS_DENY_LIST["SlurmConf"]["Accounting"]
    custom = settings.get("CustomSlurmSettings")
    for index, entry in enumerate(_as_list(custom)):
        _check_custom_settings(entry, "%s.CustomSlurmSettings[%d]" % (base, index), "SlurmConf", cluster_deny, errors,
                               multi_key_entries_allowed=True)
    if custom and settings.get("CustomSlurmSettingsIncludeFile"):
        errors.add(base + ".CustomSlurmSettingsIncludeFile", "CustomSlurmSettings and CustomSlurmSettingsIncludeFile "
                                                             "cannot be used together; keep only one of them")


def _check_timeouts(config, errors):
    field = "DevSettings.Timeouts.ComputeNodeBootstrapTimeout"
    value = _as_dict(_as_dict(config.get("DevSettings")).get("Timeouts")).get("ComputeNodeBootstrapTimeout")
    if _is_int(value) and value > MAX_SLURM_RESUME_TIMEOUT and not errors.has_field(field):
        errors.add(field, "%d seconds: it becomes Slurm's ResumeTimeout, which holds at most %d; lower it"
                   % (value, MAX_SLURM_RESUME_TIMEOUT))


def _check_queues(config, errors):
    scheduling = _as_dict(config.get("Scheduling"))
    if scheduling.get("Scheduler") != "slurm":
        return
    queues = scheduling.get("SlurmQueues")
    if not isinstance(queues, list):
        return
    base = "Scheduling.SlurmQueues"
    if len(queues) > _MAX_QUEUES:
        errors.add(base, "%d queues are configured; ParallelCluster supports at most %d" % (len(queues), _MAX_QUEUES))
    _check_duplicates(queues, base, "queue", errors)
    total_crs = 0
    for qi, queue in enumerate(queues):
        if not isinstance(queue, dict):
            continue
        qbase = "%s[%d]" % (base, qi)
        _check_name(qbase + ".Name", queue.get("Name"), "queue", errors)
        crs = queue.get("ComputeResources")
        if crs is None or (isinstance(crs, list) and not crs):
            errors.add(qbase + ".ComputeResources", "the queue has no compute resources; add at least one entry "
                                                    "with a Name and an InstanceType")
            continue
        if not isinstance(crs, list):
            continue
        total_crs += len(crs)
        if len(crs) > _MAX_CRS_PER_QUEUE:
            errors.add(qbase + ".ComputeResources", "%d compute resources are configured; ParallelCluster supports at "
                                                    "most %d per queue" % (len(crs), _MAX_CRS_PER_QUEUE))
        _check_duplicates(crs, qbase + ".ComputeResources", "compute resource", errors)
        _check_custom_settings(queue.get("CustomSlurmSettings"), qbase + ".CustomSlurmSettings", "Queue",
                               SLURM_SETTINGS_DENY_LIST["Queue"]["Global"], errors)
        for ci, cr in enumerate(crs):
            if isinstance(cr, dict):
                _check_compute_resource(queue.get("Name"), cr, "%s.ComputeResources[%d]" % (qbase, ci), errors)
    if total_crs > _MAX_CRS_PER_CLUSTER:
        errors.add(base, "%d compute resources are configured; ParallelCluster supports at most %d in a cluster"
                   % (total_crs, _MAX_CRS_PER_CLUSTER))


def _check_compute_resource(queue_name, cr, field, errors):
    _check_name(field + ".Name", cr.get("Name"), "compute resource", errors)
    min_count = cr.get("MinCount", DEFAULT_MIN_COUNT)
    max_count = cr.get("MaxCount", DEFAULT_MAX_COUNT)
    if errors.has_field(field + ".MinCount") or errors.has_field(field + ".MaxCount"):
        pass
    elif _is_int(min_count) and _is_int(max_count) and max(min_count, max_count - min_count) > MAX_SLURM_NODE_RANGE:
        which, count = (("MinCount", min_count) if min_count > MAX_SLURM_NODE_RANGE
                        else ("MaxCount", max_count - min_count))
        errors.add(field + "." + which, "%d %s nodes: Slurm reads a node range of at most %d nodes "
                                        "(hostlist.c MAX_RANGE); lower %s"
                   % (count, "static" if which == "MinCount" else "dynamic", MAX_SLURM_NODE_RANGE, which))
    elif _is_int(min_count) and _is_int(max_count) and max_count < min_count:
        errors.add(field + ".MaxCount", "MaxCount (%d) is lower than MinCount (%d); set MaxCount to at least %d"
                   % (max_count, min_count, min_count))
    elif (isinstance(queue_name, str) and isinstance(cr.get("Name"), str)
          and _is_int(min_count) and _is_int(max_count)):
        longest = 0
        example = None
        for kind, count in (("st", min_count), ("dy", max_count - min_count)):
            if count > 0:
                name = "%s-%s-%s-%d" % (queue_name, kind, cr["Name"], count)
                if len(name) > longest:
                    longest, example = len(name), name
        if longest > MAX_NODE_NAME_LENGTH:
            errors.add(field + ".Name", "node names such as '%s' would be %d characters long, more than the %d that "
                                        "Slurm and host names allow; shorten the queue or compute resource name, "
                                        "or lower MaxCount" % (example, longest, MAX_NODE_NAME_LENGTH))
    _check_custom_settings(cr.get("CustomSlurmSettings"), field + ".CustomSlurmSettings", "ComputeResource",
                           SLURM_SETTINGS_DENY_LIST["ComputeResource"]["Global"], errors)


def validate_cluster_config(config, cluster_name, provider="local", region=None, accounting=None):
    """Raise ClusterConfigError listing every problem in ``config``; return None when it is valid.

    ``region`` is used when the config has no ``Region``. ``accounting`` says whether the cluster
    runs Slurm accounting (default: when the config sets ``SlurmSettings.Database`` or
    ``ExternalSlurmdbd``); it shortens the cluster name limit to 40 characters and adds
    ParallelCluster's accounting keys to the CustomSlurmSettings deny list, as pcluster does.
    """
    if not HAS_PCLUSTER:
        raise ImportError("aws-parallelcluster is required to validate a cluster configuration:\n%s"
                          % PCLUSTER_IMPORT_ERROR)
    if provider not in PROVIDERS:
        raise ValueError("provider must be one of %s, not %r" % (", ".join(PROVIDERS), provider))
    errors = _ErrorList(config if isinstance(config, dict) else {})
    if not isinstance(config, dict):
        errors.add("config", "must be a mapping (Region, Image, HeadNode, Scheduling, ...), not a %s"
                   % type(config).__name__)
        raise ClusterConfigError(errors.errors)
    shape = config_input.shape_errors(config)
    if shape:
        raise ClusterConfigError(shape)
    for field, message in config_input.plain_data_errors(config):
        errors.add(field, message)
    if accounting is None:
        accounting = accounting_configured(config)
    config_region = config.get("Region")
    if not isinstance(config_region, str) or not config_region or errors.has_field("Region"):
        config_region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"

    if provider == "local":
        # Before the schema, which asks the (emulated) account about capacity reservations.
        gaps = emulator_gaps(config)
        if gaps:
            for field, message in gaps:
                errors.add(field, message)
            raise ClusterConfigError(errors.errors)
    loaded, crash = _run_schema(config, cluster_name, config_region, errors)
    if crash is None:
        _add_new_fields(config_input.scalar_type_errors(_ClusterSchema(cluster_name=cluster_name), config), errors)
    if loaded is not None:
        _add_new_fields(offline.shared_storage_findings(loaded, _as_list(config.get("SharedStorage"))), errors)
    _check_shared_storage(config, provider, errors)
    _check_cluster_name(cluster_name, accounting, errors)
    scheduler = _as_dict(config.get("Scheduling")).get("Scheduler")
    if provider == "local" and scheduler != "slurm" and not errors.has_field("Scheduling.Scheduler"):
        errors.add("Scheduling.Scheduler", "provider 'local' runs Slurm only; set Scheduler: slurm (found %r)"
                   % (scheduler,))
    _check_slurm_settings(config, accounting, errors)
    _check_timeouts(config, errors)
    _check_queues(config, errors)
    if loaded is not None:
        _add_new_fields(offline.compute_resource_findings(loaded), errors)
    if crash is not None and not errors.errors:
        errors.add("config", "aws-parallelcluster could not load this configuration (%s: %s); compare it with the "
                             "ParallelCluster %s cluster configuration reference"
                   % (type(crash).__name__, crash, PCLUSTER_VERSION))
    if errors.errors:
        raise ClusterConfigError(errors.errors)
