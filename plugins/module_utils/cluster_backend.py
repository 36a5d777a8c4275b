# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seam between ``pcluster_cluster`` and where a cluster really lives.

Both providers answer the same questions in ParallelCluster's own shapes (``describe`` returns
what ``pcluster describe-cluster`` returns), so nothing above this interface asks which provider
it is talking to.
"""

from __future__ import annotations

import abc
import re

try:
    from pcluster.constants import PCLUSTER_NAME_MAX_LENGTH as CLUSTER_NAME_MAX_LENGTH
    from pcluster.constants import PCLUSTER_NAME_REGEX as _PCLUSTER_NAME_REGEX
except ImportError:  # the inventory and the info module work without aws-parallelcluster
    CLUSTER_NAME_MAX_LENGTH = 60
    _PCLUSTER_NAME_REGEX = r"^([a-zA-Z][a-zA-Z0-9-]{0,%d})$"

# ParallelCluster's cluster name: ClusterNameValidator's pattern and length, and its API's
# ``^[a-zA-Z][a-zA-Z0-9-]+$`` (every operation, describe and delete too) for the minimum of two.
# fullmatch: the pattern's ``$`` alone would let a trailing newline through.
_CLUSTER_NAME = re.compile(_PCLUSTER_NAME_REGEX % (CLUSTER_NAME_MAX_LENGTH - 1), re.ASCII)
CLUSTER_NAME_RULE = ("2 to %d characters, letters, digits and hyphens only, starting with a letter "
                     "(ParallelCluster's rule)" % CLUSTER_NAME_MAX_LENGTH)

# ParallelCluster's clusterStatus values.
CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
CREATE_COMPLETE = "CREATE_COMPLETE"
CREATE_FAILED = "CREATE_FAILED"
UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
UPDATE_COMPLETE = "UPDATE_COMPLETE"
UPDATE_FAILED = "UPDATE_FAILED"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_FAILED = "DELETE_FAILED"

STABLE_STATUSES = (CREATE_COMPLETE, UPDATE_COMPLETE)

# FSx for Lustre's data repository task types (CreateDataRepositoryTask's Type).
EXPORT_TO_REPOSITORY = "EXPORT_TO_REPOSITORY"
IMPORT_METADATA_FROM_REPOSITORY = "IMPORT_METADATA_FROM_REPOSITORY"
FAILED_STATUSES = (CREATE_FAILED, UPDATE_FAILED, DELETE_FAILED)


class BackendError(Exception):
    """A cluster operation failed; ``failures`` follows describe-cluster's failures list.

    ``details`` holds more keys for the task result (stack events, validation messages).
    """

    def __init__(self, message, failures=None, details=None):
        super().__init__(message)
        self.failures = failures or [{"failureCode": "ClusterOperationFailure", "failureReason": message}]
        self.details = details or {}


class InvalidClusterName(BackendError):
    """A cluster name ParallelCluster refuses: it never reaches a path, a user name or an API call."""


class DamagedRecordError(BackendError):
    """A provider's record of a cluster cannot be trusted; ``path`` is the file to remove or repair."""

    def __init__(self, message, path):
        super().__init__(message, [{"failureCode": "ClusterRecordDamaged", "failureReason": message}])
        self.path = path


def cluster_name_problem(name):
    """Why ``name`` is not a ParallelCluster cluster name, or None when it is one."""
    if not isinstance(name, str):
        return "the cluster name must be a string, not %s" % type(name).__name__
    if len(name) < 2 or not _CLUSTER_NAME.fullmatch(name):
        return "invalid cluster name %r: use %s" % (name, CLUSTER_NAME_RULE)
    return None


def check_cluster_name(name, field="name"):
    """Refuse a bad name before anything reads or changes; every backend method may rely on it."""
    problem = cluster_name_problem(name)
    if problem:
        raise InvalidClusterName("%s: %s" % (field, problem),
                                 [{"failureCode": "InvalidClusterName", "failureReason": problem}])
    return name


class ClusterBackend(abc.ABC):
    """Every method that takes a cluster name gets one that passed ``check_cluster_name``."""

    provider = None

    @abc.abstractmethod
    def describe(self, name):
        """The cluster in describe-cluster's shape (with ``clusterConfiguration`` as a dict), or None."""

    @abc.abstractmethod
    def list_clusters(self):
        """Short describe dicts of every cluster this backend knows."""

    def describe_settled(self, name):
        """describe, once an operation already in progress has finished where the provider can wait."""
        return self.describe(name)

    def dry_run(self, name, config, creating):
        """What the provider's own dry run says about a create or update (check mode), or None.

        A dict with ``validation_messages`` (and ``change_set`` for an update, or the validators the
        provider skips); a request the provider refuses raises BackendError.
        """
        return None

    def validation_report(self):
        """What the validation of the last create or update said, as result keys
        (``validation_messages`` and the provider's own); {} when none ran."""
        return {}

    @abc.abstractmethod
    def create(self, name, config, rollback_on_failure=True):
        """Create the cluster and return its description once it is ready."""

    @abc.abstractmethod
    def update(self, name, config):
        """Apply a changed config to an existing cluster and return its description."""

    @abc.abstractmethod
    def set_compute_fleet(self, name, running):
        """Start (``running``) or stop the compute fleet, as ``pcluster update-compute-fleet`` does
        (START_REQUESTED or STOP_REQUESTED, then RUNNING or STOPPED); the description after."""

    @abc.abstractmethod
    def repair(self, name, check_mode=False):
        """Bring an existing, unchanged cluster back to running; True if anything had to change."""

    @abc.abstractmethod
    def delete(self, name):
        """Delete the cluster and everything it created; True if there was anything to delete."""

    def adopt_replaced_network(self, name, config, check_mode=False):
        """The cluster's config after taking new network ids that replace vanished ones, or None.
        Only a provider whose network can vanish under a living cluster (local) does anything."""
        return None

    @abc.abstractmethod
    def data_repository_task(self, name, task_type, paths=None, storage_name=None, check_mode=False):
        """Run an FSx for Lustre data repository task (EXPORT_TO_REPOSITORY or
        IMPORT_METADATA_FROM_REPOSITORY) on one of the cluster's Lustre file systems and return it."""
