# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local provider's cluster backend: a real Slurm cluster on this machine.

It plays the part of CloudFormation plus ParallelCluster's cookbook: renders the Slurm
configuration from the cluster config, installs the power programs that stand in for EC2,
starts the head node's daemons, records the cluster's status, and answers ``describe`` from
the record and from what is really running.
"""

from __future__ import annotations

import datetime
import inspect
import itertools
import ipaddress
import json
import os
import pwd
import shutil
import stat

from ansible_collections.hpc.parallelcluster.plugins.module_utils import accounting_database
from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils import fsx_repository
from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_power
from ansible_collections.hpc.parallelcluster.plugins.module_utils import mount_points
from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_layout
from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import PCLUSTER_VERSION
from ansible_collections.hpc.parallelcluster.plugins.module_utils.image_os import default_user
from ansible_collections.hpc.parallelcluster.plugins.module_utils.update_plan import queue_update_strategy
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_daemons import (
    Daemons, DaemonError, daemon_exe, own_dir, stop_pidfile)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_fleet import Fleet, FleetError
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_paths import LocalPaths
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_records import RecordStore, created_dirs, created_user
from ansible_collections.hpc.parallelcluster.plugins.module_utils.network_adoption import (
    adopt_new_secret, adopt_new_subnets, subnet_ids)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_conf_include import parse_include
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_slurm_conf import (
    PROLOG_NAME,
    accounting_settings,
    render_slurm_conf,
    render_slurmdbd_conf,
    render_wait_for_nodes_prolog,
)

# Slurm settings that slurmctld 22.05 takes only at start (accounting's plugin too: a Database added
# or removed by an update needs slurmctld restarted).
RESTART_KEYS = ("NodeName=", "PrologSlurmctld=", "AccountingStorageType=")

REQUIRED_COMMANDS = ("munged", "mariadbd", "mariadb-install-db", "slurmctld", "slurmd", "slurmdbd",
                     "scontrol", "sacctmgr", "ip", "nsenter", "unshare", "sudo", "start-stop-daemon")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _write(path, content, mode=0o644, owner=None):
    """Write ``content`` only if it differs; True if the file changed."""
    try:
        with open(path) as handle:
            if handle.read() == content:
                current = os.stat(path)
                want_uid, want_gid = owner or (0, 0)
                if (current.st_mode & 0o7777) == mode and (current.st_uid, current.st_gid) == (want_uid, want_gid):
                    return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(tmp, mode)
    if owner:
        os.chown(tmp, *owner)
    os.replace(tmp, path)
    return True


def _lustre_storage(config, storage_name):
    """(index, SharedStorage entry) of the Lustre file system a task runs on."""
    lustre = [(i, s) for i, s in enumerate(config.get("SharedStorage") or []) if s.get("StorageType") == "FsxLustre"]
    if storage_name:
        lustre = [(i, s) for i, s in lustre if s.get("Name") == storage_name]
        if not lustre:
            raise cb.BackendError("storage_name: the cluster has no FsxLustre shared storage named %s" % storage_name)
    if not lustre:
        raise cb.BackendError("the cluster has no FsxLustre shared storage")
    if len(lustre) > 1:
        raise cb.BackendError("storage_name: the cluster has several FsxLustre file systems (%s); name one"
                              % ", ".join(s.get("Name", "?") for _i, s in lustre))
    return lustre[0]


def _ids(user):
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _planted_links(directory):
    """Symbolic links and hard-linked files in one of root's directories: root would write through them."""
    return [entry.path for entry in os.scandir(directory)
            if entry.is_symlink() or (entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_nlink > 1)]


def _remove_planted_links(directory):
    for path in _planted_links(directory):
        os.unlink(path)


def stable_indexes(nodes, previous):
    """Each node's place on the node network: the one it had (a running node keeps its address and
    interface through an update, as an EC2 instance keeps its IP), the lowest free one for a new node."""
    indexes, taken = {}, set()
    for node in nodes:
        if node in previous and previous[node] not in taken:
            indexes[node] = previous[node]
            taken.add(previous[node])
    free = (i for i in itertools.count() if i not in taken)
    for node in nodes:
        if node not in indexes:
            indexes[node] = next(free)
    return indexes


class LocalClusterBackend(cb.ClusterBackend):
    provider = "local"

    def __init__(self, run, instance_types, s3_client_factory=None, paths=None, node_network="10.253.0.0/22",
                 bridge="hpcbr0", db_port=3307, hostname=None, warn=None, subnet_exists=None, validator=None,
                 database_resolver=None, secret_exists=None):
        """``run`` is AnsibleModule.run_command; ``instance_types(names)`` and the S3 client come from the AWS API.

        ``database_resolver(settings, cluster_name)`` checks a config's Database against the AWS API
        and returns its accounting_database.DatabaseTarget (raising DatabaseError); without one, a
        config with a Database is refused.

        ``validator(name, config, creating, head_node_instance_id)`` runs ParallelCluster's validators
        against the AWS API (pcluster_account_validators.AccountValidator) and returns the result keys;
        it raises when they refuse the config. Without one, only the offline checks apply.
        """
        self.warn = warn
        self.validator = validator
        self.validation_result = {}
        self.database_resolver = database_resolver
        self._databases = {}
        self.tolerate_missing_database = False
        self.paths = paths or LocalPaths()
        self.records = RecordStore(self.paths.clusters)
        self.run = run
        self.instance_types = instance_types
        self.s3_client_factory = s3_client_factory
        self.subnet_exists = subnet_exists
        self.secret_exists = secret_exists
        self.network = ipaddress.ip_network(node_network)
        self.bridge = bridge
        self.db_port = db_port
        self.hostname = hostname or os.uname().nodename.split(".")[0]
        self.env = {"SLURM_CONF": self.paths.slurm_conf}
        self.daemons = Daemons(self.paths, run, self.env)

    # records -------------------------------------------------------------------------------
    # The store (local_records) refuses a bad name and raises DamagedRecordError for a damaged record.
    def _load_record(self, name):
        return self.records.load(name)

    def _save_record(self, record):
        record["lastUpdatedTime"] = _now()
        self.records.save(record)

    def _warn(self, message):
        if self.warn:
            self.warn(message)

    def list_clusters(self):
        """Clusters with a sound record; a damaged record is skipped with a warning naming its file."""
        return [self._with_head_state(record) for record in self.records.load_all(self._warn)]

    def describe(self, name):
        record = self._load_record(name)
        return None if record is None else self._with_head_state(record)

    def _with_head_state(self, record):
        up = self.daemons.slurmctld_ok() if record["clusterStatus"] in cb.STABLE_STATUSES else False
        record["headNode"]["state"] = "running" if up else "stopped"
        return record

    # plan ----------------------------------------------------------------------------------
    def check_prerequisites(self):
        missing = [c for c in REQUIRED_COMMANDS if not shutil.which(c, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")]
        if missing:
            raise cb.BackendError(
                "the local provider needs %s on the head node; run the role hpc.parallelcluster.pcluster "
                "(it installs Slurm, MariaDB, munge and iproute2) first" % ", ".join(missing),
                [{"failureCode": "HeadNodePrerequisitesMissing", "failureReason": "missing: %s" % ", ".join(missing)}])

    def _other_cluster(self, name):
        for other in self.list_clusters():
            if other["clusterName"] != name:
                return other["clusterName"]
        return None

    def _node_plan(self, config):
        nodes = slurm_layout.all_node_names(config)
        hosts = list(self.network.hosts())
        if len(nodes) + 1 > len(hosts):
            raise cb.BackendError("the cluster config has %d compute nodes but the local node network %s holds %d; "
                                  "lower MaxCount or widen local_node_network" % (len(nodes), self.network, len(hosts) - 1))
        indexes = stable_indexes(nodes, self._previous_indexes(len(hosts) - 1))
        return {
            "bridge": self.bridge,
            "controller_addr": str(hosts[0]),
            "prefix_len": self.network.prefixlen,
            "veth_prefix": "hpcv",
            "nodes": {node: {"index": indexes[node], "addr": str(hosts[indexes[node] + 1])} for node in nodes},
            "slurm_conf": self.paths.slurm_conf,
            "scontrol": shutil.which("scontrol") or "/usr/bin/scontrol",
            "slurmd": shutil.which("slurmd", path="/usr/sbin:/usr/bin") or "/usr/sbin/slurmd",
            "slurmd_pid_file": self.paths.pid("slurmd-%n"),
            "slurmd_spool_dir": os.path.join(self.paths.spool, "slurmd", "%n"),
            "slurmd_spool_mount": self.paths.slurmd_spool_mount,
            "tmpfs_dir": os.path.join(self.paths.spool, "tmp", "%n"),
            "log_file": self.paths.logfile("power"),
            "instance_metadata": self.paths.instance_metadata,
            "power_lock": self.paths.power_lock,
        }

    def _previous_indexes(self, size):
        """{node: index} of the plan on disk, for the nodes whose index still fits the network."""
        try:
            nodes = self._plan_from_disk()["nodes"]
            return {node: info["index"] for node, info in nodes.items()
                    if isinstance(info.get("index"), int) and 0 <= info["index"] < size}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def render(self, name, config):
        """Every file the cluster needs, as {path: (content, mode, owner_user)}."""
        types = self.instance_types(slurm_layout.instance_type_names(config))
        plan = self._node_plan(config)
        database = self._database(name, config)
        files = {}
        pcluster_files = slurm_layout.render_pcluster_files(
            config, types, controller_hostname=self.hostname, controller_addr=plan["controller_addr"],
            accounting=accounting_settings(self.hostname) if database else None, no_gpu=True)
        for rel, content in pcluster_files.items():
            files[os.path.join(self.paths.slurm_etc, rel)] = (content, 0o644, None)
        # The slurm_tuning role's include file survives updates: keep including it while it exists.
        # So does the slurm_rest role's (JWT authentication), whose settings slurmdbd.conf repeats.
        includes = [path for path in (self.paths.tuning_include, self.paths.rest_include) if os.path.exists(path)]
        files[self.paths.slurm_conf] = (render_slurm_conf(name, self.paths, extra_includes=includes), 0o644, None)
        if database:
            files[self.paths.slurmdbd_conf] = (render_slurmdbd_conf(self.hostname, self.paths, self.db_port, database,
                                                                    self._rest_settings()), 0o600, "slurm")
            files[self.paths.mariadb_cnf] = (self.daemons.mariadb_cnf_text(self.db_port), 0o644, None)
        files[self.paths.power_plan] = (json.dumps(plan, indent=2, sort_keys=True) + "\n", 0o644, None)
        files[self.paths.power_program] = (inspect.getsource(local_power).replace(
            "POWER_PLAN = %r" % local_power.POWER_PLAN, "POWER_PLAN = %r" % self.paths.power_plan, 1)
            .join(["#!/usr/bin/python3 -I\n", ""]), 0o755, None)
        for action in ("resume", "suspend", "resume-fail"):
            wrapper = "#!/bin/sh\n# Called by slurmctld as SlurmUser with a hostlist.\nexec /usr/bin/sudo -n %s %s \"$1\"\n" % (
                self.paths.power_program, action)
            files[self.paths.bin("slurm_" + action.replace("-", "_"))] = (wrapper, 0o755, None)
        files[self.paths.sudoers] = ("".join(
            "slurm ALL=(root) NOPASSWD: %s %s *\n" % (self.paths.power_program, action)
            for action in ("resume", "suspend", "resume-fail")), 0o440, None)
        files[self.paths.bin(PROLOG_NAME)] = (render_wait_for_nodes_prolog(self.paths.slurm_conf), 0o755, None)
        files[self.paths.profile] = ("export SLURM_CONF=%s\n" % self.paths.slurm_conf, 0o644, None)
        return files

    def _rest_settings(self):
        """The slurm_rest role's include file as {key: value} ({} when the role was not applied)."""
        try:
            with open(self.paths.rest_include) as handle:
                return parse_include(handle.read())
        except OSError:
            return {}

    def _database(self, name, config):
        """The config's accounting database (a DatabaseTarget), or None for a cluster without accounting.

        Asked of the AWS API once per config. With ``tolerate_missing_database`` (check mode, where the
        role that creates the database has not run), a database the account does not have yet is a
        warning and an empty password stands in for the secret's.
        """
        settings = accounting_database.database_settings(config)
        if not settings:
            return None
        key = json.dumps([name, settings], sort_keys=True)
        if key not in self._databases:
            try:
                if self.database_resolver is None:
                    raise accounting_database.DatabaseError(
                        "%s: no AWS API to check the database against" % accounting_database.FIELD)
                self._databases[key] = self.database_resolver(settings, name)
            except accounting_database.DatabaseError as exc:
                if not self.tolerate_missing_database:
                    raise cb.BackendError(str(exc), [{"failureCode": "SlurmDatabaseFailure", "failureReason": str(exc)}])
                self._warn("%s (the create or update would fail unless it exists by then)" % exc)
                self._databases[key] = accounting_database.DatabaseTarget(
                    settings.get("UserName"), "", accounting_database.database_name(settings, name), settings.get("Uri"))
        return self._databases[key]

    def adopt_replaced_network(self, name, config, check_mode=False):
        """After an emulator restart, take the new subnet ids and Database secret ARN into the record
        (see network_adoption). Returns the record's config as it now stands, or None when nothing was adopted."""
        record = self._load_record(name)
        if record is None:
            return None
        current = record["clusterConfiguration"]
        adopted = adopt_new_subnets(current, config, self.subnet_exists) if self.subnet_exists else None
        if adopted is not None and self.warn:
            self.warn("the subnets of cluster %s are gone from the AWS API emulator (it was restarted); the "
                      "cluster takes the new ones: %s" % (name, ", ".join(subnet_ids(adopted))))
        secret = adopt_new_secret(adopted or current, config, self.secret_exists) if self.secret_exists else None
        if secret is not None and self.warn:
            self.warn("the accounting database secret of cluster %s is gone from the AWS API emulator (it was "
                      "restarted); the cluster takes the new one" % name)
        adopted = secret or adopted
        if adopted is None:
            return None
        if not check_mode:
            record["clusterConfiguration"] = adopted
            self._save_record(record)
        return adopted

    def _validate(self, name, config, creating):
        """ParallelCluster's validators on ``config``, before anything changes; raises when they refuse it."""
        if self.validator is None:
            return None
        head = None
        if not creating:
            record = self._load_record(name) or {}
            head = (record.get("headNode") or {}).get("instanceId")
        self.validation_result = self.validator(name, config, creating=creating, head_node_instance_id=head)
        return self.validation_result

    def dry_run(self, name, config, creating):
        """What ``pcluster create-cluster --dryrun`` (or update-cluster) would say, from the emulator's data.

        In check mode, the earlier roles of the same run (vpc, s3_repo) have not created the network
        and the bucket yet: when the config names subnets or an FSx bucket that the account does not
        have, pcluster's verdict would be about them only, so the validators wait for the real run
        (which checks before it creates) and a warning says so.
        """
        if self.validator is None:
            return None
        missing = self._not_yet_in_account(config)
        if missing:
            message = ("ParallelCluster's validators were not run: the configuration names %s, which the AWS API does "
                       "not have yet (in check mode, the roles that create them have not run); they run before the "
                       "cluster is created or updated" % ", ".join(missing))
            self._warn(message)
            return {"validation_messages": [], "validation_skipped": message}
        return self._validate(name, config, creating)

    def _not_yet_in_account(self, config):
        """The subnets and FSx ImportPath buckets of ``config`` that the AWS API does not have."""
        missing = []
        if self.subnet_exists is not None:
            missing += ["subnet %s" % subnet for subnet in dict.fromkeys(subnet_ids(config))
                        if not self.subnet_exists(subnet)]
        missing += ["bucket %s" % bucket for dummy, bucket, dummy_exc in self._unreachable_import_buckets(config)]
        return missing

    def validation_report(self):
        return dict(self.validation_result)

    def plan(self, name, config, check_mode=False):
        """Check what can be checked before anything changes, and list the files that would change.

        Rendering asks the EC2 API about instance types, so an unknown type fails here; the
        buckets of FSx ImportPaths must exist too, except in check mode, where the bucket may be
        one that an earlier role of the same run would have created: there it is a warning.
        """
        try:
            self._check_import_paths(config)
        except cb.BackendError as exc:
            if not check_mode or self.warn is None:
                raise
            self.warn("%s (the create would fail unless the bucket exists by then)" % exc)
        self.tolerate_missing_database = check_mode and self.warn is not None
        return self.pending_file_changes(name, config)

    def _unreachable_import_buckets(self, config):
        """(index, bucket, error) of each FSx for Lustre ImportPath whose bucket S3 does not answer for."""
        found = []
        for index, storage in enumerate(config.get("SharedStorage", []) or []):
            import_path = (storage.get("FsxLustreSettings") or {}).get("ImportPath")
            if storage.get("StorageType") != "FsxLustre" or not import_path or self.s3_client_factory is None:
                continue
            bucket = import_path[len("s3://"):].partition("/")[0]
            try:
                self.s3_client_factory().head_bucket(Bucket=bucket)
            except Exception as exc:
                if not type(exc).__module__.startswith(("botocore", "boto3")):
                    raise
                found.append((index, bucket, exc))
        return found

    def _check_import_paths(self, config):
        unreachable = self._unreachable_import_buckets(config)
        if unreachable:
            index, bucket, exc = unreachable[0]
            raise cb.BackendError(
                "SharedStorage[%d].FsxLustreSettings.ImportPath: bucket %s is not reachable (%s); "
                "create it first (role hpc.parallelcluster.s3_repo) or fix the path" % (index, bucket, exc),
                [{"failureCode": "FsxImportPathFailure", "failureReason": str(exc)}])

    def pending_file_changes(self, name, config):
        """Paths whose content would change; used for check mode and to decide on a reconfigure."""
        changed = []
        for path, (content, _mode, _owner) in self.render(name, config).items():
            try:
                with open(path) as handle:
                    if handle.read() == content:
                        continue
            except FileNotFoundError:
                pass
            changed.append(path)
        return changed

    # data repository tasks ----------------------------------------------------------------
    def data_repository_task(self, name, task_type, paths=None, storage_name=None, check_mode=False):
        record = self._load_record(name)
        if record is None:
            raise cb.BackendError("cluster %s does not exist" % name)
        if record["clusterStatus"] not in cb.STABLE_STATUSES:
            raise cb.BackendError("cluster %s is %s; data repository tasks need CREATE_COMPLETE or UPDATE_COMPLETE"
                                  % (name, record["clusterStatus"]))
        index, storage = _lustre_storage(record.get("clusterConfiguration") or {}, storage_name)
        settings = storage.get("FsxLustreSettings") or {}
        import_path = settings.get("ImportPath")
        field = "SharedStorage[%d].FsxLustreSettings" % index
        if not import_path:
            raise cb.BackendError("%s.ImportPath is not set: the file system %s has no data repository"
                                  % (field, storage.get("Name")))
        # FSx's own default when only ImportPath is given: a timestamped prefix of the import bucket.
        export_path = settings.get("ExportPath") or "s3://%s/FSxLustre%s/" % (
            fsx_repository.split_s3_path(import_path)[0],
            record.get("creationTime", "").replace("-", "").replace(":", "").split(".")[0].rstrip("Z") + "Z")
        mount_dir = storage["MountDir"]
        s3 = self.s3_client_factory()
        repository = export_path if task_type == cb.EXPORT_TO_REPOSITORY else import_path
        try:
            if task_type == cb.EXPORT_TO_REPOSITORY:
                moved, skipped = fsx_repository.export_files(s3, export_path, mount_dir, import_path=import_path,
                                                             paths=paths, dry_run=check_mode)
            else:
                moved, skipped = fsx_repository.import_objects(s3, import_path, mount_dir, paths=paths, dry_run=check_mode)
        except fsx_repository.MountPointError as exc:
            raise cb.BackendError("%s.MountDir: %s" % (field.rsplit(".", 1)[0], exc))
        except fsx_repository.RepositoryPathError as exc:
            raise cb.BackendError("paths: %s" % exc)
        except Exception as exc:
            if type(exc).__module__.startswith(("botocore", "boto3")):
                raise cb.BackendError("%s: data repository task on %s failed: %s" % (field, repository, exc),
                                      [{"failureCode": "DataRepositoryTaskFailure", "failureReason": str(exc)}])
            raise
        return {
            "type": task_type,
            "lifecycle": "PENDING" if check_mode else "SUCCEEDED",
            "file_system_name": storage.get("Name"),
            "mount_dir": mount_dir,
            "repository_path": repository,
            "paths": fsx_repository.relative_paths(mount_dir, paths),
            "files": moved,
            "skipped": skipped,
            "total_count": len(moved),
            "succeeded_count": 0 if check_mode else len(moved),
        }

    # apply ---------------------------------------------------------------------------------
    def _write_files(self, name, config, rendered=None):
        changed = []
        for path, (content, mode, owner) in (rendered or self.render(name, config)).items():
            if _write(path, content, mode, _ids(owner) if owner else None):
                changed.append(path)
        return changed

    def _write_files_stopping_ctld(self, name, config, rendered=None):
        """Write the files; stop slurmctld, slurmdbd or MariaDB when a setting it reads only at start
        changed, so that the daemon start that follows brings it back with them (a reconfigure would not)."""
        restart_before = self._restart_lines()
        rendered = rendered or self.render(name, config)
        changed = self._write_files(name, config, rendered)
        # A removed queue's node definitions go with its file, so the comparison must see it gone.
        changed += self._remove_stale_queue_files(rendered)
        if changed and restart_before != self._restart_lines() and self.daemons.slurmctld_ok():
            self.daemons.stop_slurmctld()
        if self.paths.mariadb_cnf in changed and self.daemons.mariadb_ok():
            # MariaDB reads its settings at start only: it stops, slurmdbd first (slurmctld keeps the
            # records it sends meanwhile), and the daemon start that follows brings both back.
            self.daemons.stop_accounting()
        elif self.paths.slurmdbd_conf in changed and self.daemons.slurmdbd_ok():
            # slurmdbd reads its database user and password at start only (a new secret, a new Database).
            self.daemons.stop("slurmdbd")
        return changed

    def _prepare_dirs(self):
        """The run and log directories are root's: root writes PID files and logs there, and the
        Slurm daemons open theirs as root before they drop to SlurmUser (slurmctld then chowns its
        log), so no other account may place a link there. Links left from before are removed."""
        p = self.paths
        slurm_ids = _ids("slurm")
        for path, mode, owner in (
            (p.state, 0o755, None), (p.clusters, 0o755, None), (p.spool, 0o755, None),
            (os.path.join(p.spool, "slurmctld"), 0o700, slurm_ids), (os.path.join(p.spool, "slurmd"), 0o755, None),
            (os.path.join(p.spool, "tmp"), 0o755, None), (p.run, 0o755, None), (p.log, 0o755, None),
        ):
            own_dir(path, owner or (0, 0), mode)
        for directory in (p.run, p.log):
            _remove_planted_links(directory)

    def _dirs_are_roots(self):
        """True when the run and log directories are root's alone, without links in them (an older
        layout gave them to slurm, who could have left some)."""
        for path in (self.paths.run, self.paths.log):
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                return False
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022 or _planted_links(path):
                return False
        return True

    def _link_default_conf(self):
        """Plain ``sinfo``/``sbatch`` find the cluster through /etc/slurm/slurm.conf."""
        link = self.paths.etc_slurm_link
        if os.path.islink(link) or not os.path.exists(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if not (os.path.islink(link) and os.readlink(link) == self.paths.slurm_conf):
                if os.path.islink(link):
                    os.unlink(link)
                os.symlink(self.paths.slurm_conf, link)

    def _ensure_default_user(self, config, record):
        user = default_user(config)
        try:
            pwd.getpwnam(user)
        except KeyError:
            rc, _out, err = self.run(["useradd", "--create-home", "--shell", "/bin/bash", user])
            if rc != 0:
                raise cb.BackendError("could not create the cluster's default user %s: %s" % (user, err.strip()))
            record.setdefault("local", {})["createdUser"] = user
        return user

    def _shared_dirs(self, config, record):
        """SharedStorage mount dirs: directories on this machine, writable by the cluster's users."""
        created = record.setdefault("local", {}).setdefault("createdDirs", [])
        for index, storage in enumerate(config.get("SharedStorage", []) or []):
            mount = storage.get("MountDir")
            if not mount:
                continue
            try:
                made = mount_points.ensure_mount_point(mount)
            except mount_points.MountPointError as exc:
                raise cb.BackendError("SharedStorage[%d].MountDir: %s; remove it or choose another MountDir" % (index, exc))
            if made and mount not in created:
                created.append(mount)

    def _hydrate_fsx(self, config):
        """FSx for Lustre's ImportPath: copy the bucket's objects into the mount dir at create."""
        for storage in config.get("SharedStorage", []) or []:
            settings = storage.get("FsxLustreSettings") or {}
            import_path = settings.get("ImportPath")
            if storage.get("StorageType") != "FsxLustre" or not import_path or self.s3_client_factory is None:
                continue
            try:
                skipped = fsx_repository.import_objects(self.s3_client_factory(), import_path, storage["MountDir"]).skipped
            except fsx_repository.MountPointError as exc:
                raise cb.BackendError("SharedStorage %s: MountDir: %s" % (storage.get("Name"), exc))
            except Exception as exc:  # botocore's ClientError and BotoCoreError, without importing botocore here
                if type(exc).__module__.startswith(("botocore", "boto3")):
                    raise cb.BackendError(
                        "SharedStorage %s: could not import %s: %s" % (storage.get("Name"), import_path, exc),
                        [{"failureCode": "FsxImportPathFailure", "failureReason": str(exc)}])
                raise
            for entry in skipped if self.warn else []:
                self.warn("SharedStorage %s: %s not imported: %s" % (storage.get("Name"), entry["key"], entry["reason"]))

    def _start_daemons(self, name, config, reconfigure):
        """munge, the accounting daemons when the config has a Database (stopped when it has none), slurmctld."""
        d = self.daemons
        d.ensure_munge()
        database = self._database(name, config)
        started_dbd = False
        if database:
            d.ensure_mariadb()
            d.ensure_accounting_user(database)
            started_dbd = d.ensure_slurmdbd()
        else:
            d.stop_accounting()
            for path in (self.paths.slurmdbd_conf, self.paths.mariadb_cnf):
                if os.path.lexists(path):
                    os.unlink(path)
        started_ctld = d.ensure_slurmctld()
        if reconfigure and not started_ctld:
            d.reconfigure()
        return started_dbd or started_ctld

    def _power_up_static(self, config):
        """Static nodes (MinCount) are kept running, as ParallelCluster's clustermgtd does."""
        static = slurm_layout.static_node_names(config)
        if not static:
            return False
        rc, out, _err = self.run(["sinfo", "--noheader", "--Node", "--format=%N %t", "--nodes", ",".join(static)],
                                 environ_update=self.env)
        down = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[1].endswith("~")]
        if down:
            rc, _out, err = self.run(["scontrol", "update", "nodename=%s" % ",".join(down), "state=power_up"],
                                     environ_update=self.env)
            if rc != 0:
                raise cb.BackendError("could not power up static nodes %s: %s" % (",".join(down), err.strip()))
        return bool(down)

    def create(self, name, config, rollback_on_failure=True):
        self._validate(name, config, creating=True)
        self._database(name, config)
        self.check_prerequisites()
        other = self._other_cluster(name)
        if other:
            raise cb.BackendError("the local provider runs one cluster per machine and %s already exists; "
                                  "delete it first (state: absent)" % other)
        now = _now()
        head = config.get("HeadNode", {})
        record = self._load_record(name) or {}
        record.update({
            "clusterName": name,
            "clusterStatus": cb.CREATE_IN_PROGRESS,
            "cloudformationStackStatus": cb.CREATE_IN_PROGRESS,
            "computeFleetStatus": "STARTING",
            "region": config.get("Region"),
            "version": PCLUSTER_VERSION,
            "provider": self.provider,
            "scheduler": {"type": "slurm"},
            "creationTime": record.get("creationTime", now),
            "clusterConfiguration": config,
            "failures": [],
            "headNode": {
                "instanceId": "local-%s-head" % name,
                "instanceType": head.get("InstanceType"),
                "privateIpAddress": str(next(self.network.hosts())),
                "publicIpAddress": None,
                "state": "pending",
                "launchTime": now,
            },
        })
        self._prepare_dirs()
        self._save_record(record)
        try:
            record.setdefault("local", {})["defaultUser"] = self._ensure_default_user(config, record)
            self._shared_dirs(config, record)
            self._save_record(record)
            self._write_files(name, config)
            self._link_default_conf()
            local_power.ensure_bridge(self._plan_from_disk())
            self._start_daemons(name, config, reconfigure=True)
            self._power_up_static(config)
            self._hydrate_fsx(config)
        except (cb.BackendError, DaemonError, OSError) as exc:
            failures = getattr(exc, "failures", None) or [{"failureCode": "HeadNodeBootstrapFailure", "failureReason": str(exc)}]
            record.update({"clusterStatus": cb.CREATE_FAILED, "cloudformationStackStatus": cb.CREATE_FAILED,
                           "failures": failures})
            self._save_record(record)
            if rollback_on_failure:
                self.delete(name)
            raise cb.BackendError("cluster %s failed to create: %s" % (name, exc), failures)
        record.update({"clusterStatus": cb.CREATE_COMPLETE, "cloudformationStackStatus": cb.CREATE_COMPLETE,
                       "computeFleetStatus": "RUNNING"})
        record["headNode"]["state"] = "running"
        self._save_record(record)
        return self.describe(name)

    def _plan_from_disk(self):
        return local_power.load_plan(self.paths.power_plan)

    def _restart_lines(self):
        """Lines of the Slurm files on disk that slurmctld 22.05 reads only at start (node
        definitions and its prolog): when they change, a reconfigure is not enough."""
        lines = []
        for root, _dirs, files in os.walk(self.paths.slurm_etc):
            for filename in sorted(files):
                if filename.endswith(".conf"):
                    with open(os.path.join(root, filename)) as handle:
                        lines += [line.strip() for line in handle if line.startswith(RESTART_KEYS)]
        return sorted(lines)

    def _remove_stale_queue_files(self, rendered):
        """Delete the include files of queues no longer in the config; returns their paths."""
        queue_dir = os.path.join(self.paths.slurm_etc, "pcluster")
        removed = []
        if not os.path.isdir(queue_dir):
            return removed
        for filename in os.listdir(queue_dir):
            path = os.path.join(queue_dir, filename)
            if path not in rendered and os.path.isfile(path):
                os.unlink(path)
                removed.append(path)
        return removed

    def update(self, name, config, fleet_stop=False, touched_prefixes=()):
        """Apply a changed config, as ParallelCluster's update does once its policies allow it.

        With ``fleet_stop`` the compute fleet is stopped first and started again at the end. Without
        it, running nodes that the update removes or changes follow QueueUpdateStrategy. slurmctld
        is restarted when the node definitions change (Slurm 22.05 cannot add or remove nodes on
        reconfigure), reconfigured otherwise; slurmdbd and the accounting database restart only when
        their own files change.
        """
        self._validate(name, config, creating=False)
        self._database(name, config)
        record = self._load_record(name)
        old_plan = self._plan_from_disk() if os.path.exists(self.paths.power_plan) else {"nodes": {}}
        new_nodes = set(self._node_plan(config)["nodes"])
        removed = sorted(set(old_plan["nodes"]) - new_nodes)
        touched = sorted(n for n in set(old_plan["nodes"]) & new_nodes if n.startswith(tuple(touched_prefixes)))
        record.update({"clusterStatus": cb.UPDATE_IN_PROGRESS, "cloudformationStackStatus": cb.UPDATE_IN_PROGRESS})
        self._save_record(record)
        fleet = Fleet(self.run, self.env)
        try:
            self._prepare_dirs()
            self._shared_dirs(config, record)
            if fleet_stop and self.daemons.slurmctld_ok():
                record["computeFleetStatus"] = "STOPPING"
                self._save_record(record)
                fleet.stop()
                record["computeFleetStatus"] = "STOPPED"
                self._save_record(record)
            elif self.daemons.slurmctld_ok():
                fleet.apply_strategy(queue_update_strategy(config), removed + touched)
            for node in removed:
                local_power.suspend_node(old_plan, node)
            rendered = self.render(name, config)
            changed = self._write_files_stopping_ctld(name, config, rendered)
            self._link_default_conf()
            local_power.ensure_bridge(self._plan_from_disk())
            self._start_daemons(name, config, reconfigure=bool(changed))
            if fleet_stop:
                record["computeFleetStatus"] = "STARTING"
                self._save_record(record)
                fleet.start(slurm_layout.partition_names(config))
                record["computeFleetStatus"] = "RUNNING"
            self._power_up_static(config)
        except (cb.BackendError, DaemonError, FleetError, OSError) as exc:
            failures = getattr(exc, "failures", None) or [{"failureCode": "UpdateFailure", "failureReason": str(exc)}]
            record.update({"clusterStatus": cb.UPDATE_FAILED, "cloudformationStackStatus": cb.UPDATE_FAILED, "failures": failures})
            self._save_record(record)
            raise cb.BackendError("cluster %s failed to update: %s" % (name, exc), failures)
        record.update({"clusterStatus": cb.UPDATE_COMPLETE, "cloudformationStackStatus": cb.UPDATE_COMPLETE,
                       "clusterConfiguration": config, "failures": []})
        self._save_record(record)
        return self.describe(name)

    def set_compute_fleet(self, name, running):
        """Partitions UP again, or INACTIVE with every compute node powered down (running jobs are
        requeued), as ParallelCluster's clustermgtd does for START_REQUESTED and STOP_REQUESTED."""
        record = self._load_record(name)
        config = record["clusterConfiguration"]
        fleet = Fleet(self.run, self.env)
        record["computeFleetStatus"] = "STARTING" if running else "STOPPING"
        self._save_record(record)
        try:
            if running:
                fleet.start(slurm_layout.partition_names(config))
                self._power_up_static(config)
            else:
                fleet.stop()
        except (FleetError, cb.BackendError) as exc:
            raise cb.BackendError("could not %s the compute fleet of %s: %s" % ("start" if running else "stop", name, exc))
        record["computeFleetStatus"] = "RUNNING" if running else "STOPPED"
        record["lastUpdatedTime"] = _now()
        self._save_record(record)
        return self.describe(name)

    def repair(self, name, check_mode=False):
        """After a reboot, a killed daemon or a crashed compute node: start what should be running and
        replace failed dynamic nodes (ParallelCluster's clustermgtd). True if anything was down."""
        record = self._load_record(name)
        config = record["clusterConfiguration"]
        accounting = bool(self._database(name, config))
        daemons_ok = all((self.daemons.munge_ok(), not accounting or self.daemons.mariadb_ok(),
                          not accounting or self.daemons.slurmdbd_ok(), self.daemons.slurmctld_ok()))
        fleet = Fleet(self.run, self.env)
        failed_nodes = fleet.failed_dynamic_nodes() if daemons_ok else []
        mounts = [s["MountDir"] for s in config.get("SharedStorage", []) or [] if s.get("MountDir")]
        needs = (bool(self.pending_file_changes(name, config)) or not daemons_ok or bool(failed_nodes)
                 or not self._dirs_are_roots() or not all(mount_points.is_mount_point(m) for m in mounts))
        if not needs or check_mode:
            return needs
        self._prepare_dirs()
        self._shared_dirs(config, record)
        self._save_record(record)
        changed = self._write_files_stopping_ctld(name, config)
        self._link_default_conf()
        local_power.ensure_bridge(self._plan_from_disk())
        self._start_daemons(name, config, reconfigure=bool(changed))
        fleet.replace_failed_dynamic_nodes()
        if record.get("computeFleetStatus") == "STOPPED":
            # A restarted slurmctld reads its partitions UP from slurm.conf: the fleet stays stopped.
            fleet.stop()
        else:
            self._power_up_static(config)
        return True

    # delete --------------------------------------------------------------------------------
    def delete(self, name):
        try:
            record = self._load_record(name)
        except cb.DamagedRecordError as exc:
            return self._delete_damaged(name, exc)
        if record is None:
            return False
        record.update({"clusterStatus": cb.DELETE_IN_PROGRESS, "cloudformationStackStatus": cb.DELETE_IN_PROGRESS})
        self._save_record(record)
        p = self.paths
        self.daemons.stop_slurm()
        self._power_down_all()
        self.daemons.stop_mariadb()
        self.daemons.stop_munge()
        # What the record says the cluster created is data from a file: only what passes local_records goes.
        mounts, refused = created_dirs(record)
        user, user_problem = created_user(record)
        for mount, why in refused:
            self._warn("cluster %s: left %r (%s); remove it by hand if the cluster made it" % (name, mount, why))
        if user_problem:
            self._warn("cluster %s: no user removed, %s" % (name, user_problem))
        for mount in mounts:
            shutil.rmtree(mount, ignore_errors=True)
        if user:
            self.run(["userdel", "--remove", user])
        if os.path.islink(p.etc_slurm_link) and os.readlink(p.etc_slurm_link) == p.slurm_conf:
            os.unlink(p.etc_slurm_link)
        for path in (p.sudoers, p.profile):
            if os.path.exists(path):
                os.unlink(path)
        for path in (p.slurm_etc, p.node_package, p.spool, p.run, p.log,
                     p.mariadb_dir, p.mariadb_cnf):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.exists(path):
                os.unlink(path)
        self.records.remove(name)
        # Parents we made are removed once empty; a directory holding anything else stays.
        for path in (p.clusters, p.state, os.path.dirname(p.slurm_etc), os.path.dirname(p.node_package)):
            try:
                os.rmdir(path)
            except OSError:
                pass
        return True

    def _delete_damaged(self, name, exc):
        """Delete a cluster whose record is damaged. When another cluster has a sound record, the
        head node's daemons and folders are that cluster's: only the damaged record goes. Otherwise
        the record is replaced by one that names nothing the file said and the delete runs on it, so
        it removes what the provider's own layout names; folders and users only the record named stay."""
        others = [r["clusterName"] for r in self.records.load_all(lambda message: None) if r["clusterName"] != name]
        try:
            if others:
                self.records.remove(name)
                self._warn("%s. It was removed; nothing else was touched: the head node's daemons and folders "
                           "belong to cluster %s" % (exc, others[0]))
                return True
            self.records.remove(name)
            self.records.save({"clusterName": name, "clusterStatus": cb.DELETE_IN_PROGRESS, "headNode": {},
                               "clusterConfiguration": {}, "lastUpdatedTime": _now()})
        except OSError as error:
            raise cb.BackendError("%s. It could not be removed (%s): remove %s by hand, then delete the cluster again"
                                  % (exc, error.strerror, exc.path))
        self._warn("%s. The cluster is deleted from the provider's own layout; shared storage folders and the "
                   "default user that only the record named were left: remove them by hand if the cluster made them"
                   % exc)
        return self.delete(name)

    def _power_down_all(self):
        """Every node's slurmd and namespace, then the bridge: what terminating the fleet does."""
        if os.path.exists(self.paths.power_plan):
            plan = self._plan_from_disk()
            for node in plan["nodes"]:
                local_power.suspend_node(plan, node)
        # Nodes of an older plan (a config changed since) are found by their PID files.
        if os.path.isdir(self.paths.run):
            for entry in os.listdir(self.paths.run):
                if entry.startswith("slurmd-") and entry.endswith(".pid"):
                    stop_pidfile(os.path.join(self.paths.run, entry), daemon_exe("slurmd"))
        rc, out, _err = self.run(["ip", "-o", "link", "show", "type", "veth"])
        for line in out.splitlines():
            ifname = line.split(":")[1].strip().split("@")[0]
            if ifname.startswith("hpcv"):
                self.run(["ip", "link", "del", ifname])
        rc, out, _err = self.run(["ip", "netns", "list"])
        for line in out.splitlines():
            ns = line.split()[0] if line.split() else ""
            if ns and os.path.exists(os.path.join(self.paths.spool, "slurmd", ns)):
                self.run(["ip", "netns", "del", ns])
        if self.run(["ip", "link", "show", self.bridge])[0] == 0:
            self.run(["ip", "link", "del", self.bridge])
