"""An in-memory stand-in for ``pcluster.lib`` that answers as ParallelCluster does.

Answers are built from ParallelCluster's own API model classes (``pcluster.api.models``:
CreateClusterResponseContent, DescribeClusterResponseContent, ClusterInfoSummary, Failure,
StackEvent, DescribeComputeFleetResponseContent, ...) and encoded with its own JSONEncoder, as
``pcluster.cli.model.call`` does; errors are ParallelCluster's own exception classes
(``pcluster.api.errors``). Arguments are checked against the operation model the way
``pcluster.lib`` checks them. Update requests are judged by ParallelCluster's ConfigPatch.

Statuses move on as the cluster is described: a create is CREATE_IN_PROGRESS for
``steps`` describe calls, then CREATE_COMPLETE (or CREATE_FAILED when told to fail).
"""

import datetime
import json

import yaml
from pcluster.api import errors
from pcluster.api import models as m
from pcluster.api.encoder import JSONEncoder
from pcluster.cli import model as cli_model
from pcluster.config.config_patch import ConfigPatch
from pcluster.utils import to_snake_case

from ansible_collections.hpc.parallelcluster.plugins.module_utils.update_plan import ClusterView

VERSION = "3.15.1"
ACCOUNT = "123456789012"
URL = "https://parallelcluster-fake-v1-do-not-delete.s3.amazonaws.com/parallelcluster/%s/clusters/%s/configs/" \
      "cluster-config.yaml?X-Amz-Signature=fake"

_MODEL = None


def _operation_params():
    global _MODEL
    if _MODEL is None:
        _MODEL = cli_model.load_model(cli_model.package_spec())
    return _MODEL


def _encode(content):
    return json.loads(JSONEncoder().encode(content))


def _now():
    return datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class _Cluster:
    def __init__(self, name, config, region, rollback):
        self.name = name
        self.config = config
        self.region = region
        self.rollback = rollback
        self.stack_status = "CREATE_IN_PROGRESS"
        self.fleet = "UNKNOWN"
        self.countdown = 0
        self.pending = None  # (target stack status, target fleet) when the countdown ends
        self.fleet_pending = []  # fleet statuses still to show
        self.failure = None
        self.events = []
        self.arn = "arn:aws:cloudformation:%s:%s:stack/%s/0a1b2c3d" % (region, ACCOUNT, name)


class FakePclusterLib:
    """``pcluster.lib`` for tests: create_cluster, describe_cluster, update_cluster, delete_cluster,
    list_clusters, update_compute_fleet, describe_compute_fleet and get_cluster_stack_events."""

    def __init__(self, steps=2, page_size=50, region="us-east-1"):
        self.steps = steps
        self.page_size = page_size
        self.default_region = region
        self.clusters = {}
        self.calls = []
        self.dryrun_messages = []
        self.validation_errors = None
        self.fail_next = None
        self.head_node_public_ip = "198.51.100.7"

    # ------------------------------------------------------------ test controls

    def will_fail(self, operation, code="HeadNodeBootstrapFailure",
                  reason="Cluster creation timed out. Failed to bootstrap the head node.",
                  resource="HeadNodeWaitCondition"):
        """Make the next create (or update) end in CREATE_FAILED (UPDATE_FAILED)."""
        self.fail_next = (operation, code, reason, resource)

    def fetch(self, url):
        """What GET on describe-cluster's presigned configuration URL returns."""
        for cluster in self.clusters.values():
            if URL % (VERSION, cluster.name) == url:
                return yaml.safe_load(yaml.safe_dump(cluster.config))
        raise IOError("403 Forbidden: %s" % url)

    def operations(self):
        return [op for op, dummy in self.calls]

    # ------------------------------------------------------------ helpers

    def _check_args(self, operation, kwargs):
        params = _operation_params()[operation]["params"]
        known = {to_snake_case(p["name"]) for p in params} | {"wait", "query", "debug"}
        missing = {to_snake_case(p["name"]) for p in params if p["required"]} - set(kwargs)
        unexpected = set(kwargs) - known
        if missing:
            raise TypeError("<%s> missing required arguments: %s" % (operation, missing))
        if unexpected:
            raise TypeError("<%s> got unexpected arguments: %s" % (operation, unexpected))
        self.calls.append((to_snake_case(operation), dict(kwargs)))

    def _get(self, name):
        cluster = self.clusters.get(name)
        if cluster is None:
            raise errors.NotFoundException(
                "Cluster '%s' does not exist or belongs to an incompatible ParallelCluster major version." % name)
        return cluster

    @staticmethod
    def _cluster_status(cluster):
        from pcluster.api.converters import cloud_formation_status_to_cluster_status
        return cloud_formation_status_to_cluster_status(cluster.stack_status)

    def _summary(self, cluster, stack_status=None):
        stack_status = stack_status or cluster.stack_status
        from pcluster.api.converters import cloud_formation_status_to_cluster_status
        return m.ClusterInfoSummary(cluster_name=cluster.name, cloudformation_stack_status=stack_status,
                                    cloudformation_stack_arn=cluster.arn, region=cluster.region, version=VERSION,
                                    cluster_status=cloud_formation_status_to_cluster_status(stack_status),
                                    scheduler=m.Scheduler(type="slurm"))

    def _event(self, cluster, resource, status, reason=None, resource_type="AWS::CloudFormation::WaitCondition"):
        cluster.events.insert(0, m.StackEvent(
            event_id="%s-%d" % (resource, len(cluster.events)), physical_resource_id=resource,
            resource_status=status, resource_status_reason=reason, stack_id=cluster.arn, stack_name=cluster.name,
            logical_resource_id=resource, resource_type=resource_type, timestamp=_now()))

    def _start(self, cluster, in_progress, done, failed, fleet=None):
        cluster.stack_status = in_progress
        cluster.countdown = self.steps
        operation = "create" if in_progress.startswith("CREATE") else "update"
        if self.fail_next and self.fail_next[0] == operation:
            dummy, code, reason, resource = self.fail_next
            self.fail_next = None
            cluster.failure = (code, reason, resource)
            cluster.pending = (failed, cluster.fleet)
        else:
            cluster.failure = None
            cluster.pending = (done, fleet or cluster.fleet)
        self._event(cluster, cluster.name, in_progress, resource_type="AWS::CloudFormation::Stack")

    def _advance(self, cluster):
        if cluster.countdown <= 0 or cluster.pending is None:
            return
        cluster.countdown -= 1
        if cluster.countdown:
            return
        status, fleet = cluster.pending
        cluster.pending = None
        if cluster.failure:
            code, reason, resource = cluster.failure
            self._event(cluster, resource, "CREATE_FAILED" if status == "CREATE_FAILED" else "UPDATE_FAILED", reason)
            if status == "CREATE_FAILED" and cluster.rollback:
                status = "ROLLBACK_COMPLETE"
        if status == "DELETE_COMPLETE":
            del self.clusters[cluster.name]
            return
        cluster.stack_status = status
        cluster.fleet = fleet
        self._event(cluster, cluster.name, status, resource_type="AWS::CloudFormation::Stack")

    def _validation_messages(self):
        return [m.ConfigValidationMessage(**message) for message in self.dryrun_messages] or None

    def _refuse_invalid(self, exception, content):
        if self.validation_errors:
            raise exception(content(configuration_validation_errors=[
                m.ConfigValidationMessage(**message) for message in self.validation_errors],
                message="Invalid cluster configuration."))

    # ------------------------------------------------------------ pcluster.lib operations

    def create_cluster(self, **kwargs):
        self._check_args("create-cluster", kwargs)
        name = kwargs["cluster_name"]
        config = kwargs["cluster_configuration"]
        config = yaml.safe_load(config) if isinstance(config, str) else config
        if kwargs.get("dryrun") is False or kwargs.get("dryrun") is None:
            if name in self.clusters:
                raise errors.BadRequestException("cluster '%s' already exists" % name)
        self._refuse_invalid(errors.CreateClusterBadRequestException, m.CreateClusterBadRequestExceptionResponseContent)
        if kwargs.get("dryrun"):
            raise errors.DryrunOperationException(validation_messages=self._validation_messages())
        region = kwargs.get("region") or config.get("Region") or self.default_region
        cluster = _Cluster(name, config, region, kwargs.get("rollback_on_failure") in (True, None))
        self.clusters[name] = cluster
        self._start(cluster, "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_FAILED", fleet="RUNNING")
        return _encode(m.CreateClusterResponseContent(cluster=self._summary(cluster),
                                                      validation_messages=self._validation_messages()))

    def describe_cluster(self, **kwargs):
        self._check_args("describe-cluster", kwargs)
        cluster = self._get(kwargs["cluster_name"])
        self._advance(cluster)
        cluster = self._get(kwargs["cluster_name"])
        status = self._cluster_status(cluster)
        failures = None
        if status == "CREATE_FAILED" and cluster.failure:
            failures = [m.Failure(failure_code=cluster.failure[0], failure_reason=cluster.failure[1])]
        content = m.DescribeClusterResponseContent(
            creation_time=_now(), version=VERSION,
            cluster_configuration=m.ClusterConfigurationStructure(url=URL % (VERSION, cluster.name)),
            tags=[m.Tag(key="parallelcluster:version", value=VERSION)],
            cloud_formation_stack_status=cluster.stack_status, cluster_name=cluster.name,
            compute_fleet_status=cluster.fleet, cloudformation_stack_arn=cluster.arn, last_updated_time=_now(),
            region=cluster.region, cluster_status=status, scheduler=m.Scheduler(type="slurm"), failures=failures)
        if status not in ("CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_IN_PROGRESS"):
            content.head_node = m.EC2Instance(
                instance_id="i-0123456789abcdef0", launch_time=_now(), public_ip_address=self.head_node_public_ip,
                instance_type=(cluster.config.get("HeadNode") or {}).get("InstanceType"),
                state=m.InstanceState.from_dict("running"), private_ip_address="10.0.0.10")
        return _encode(content)

    def list_clusters(self, **kwargs):
        self._check_args("list-clusters", kwargs)
        names = sorted(self.clusters)
        start = int(kwargs.get("next_token") or 0)
        page = names[start:start + self.page_size]
        token = str(start + self.page_size) if start + self.page_size < len(names) else None
        wanted = kwargs.get("cluster_status")
        summaries = [self._summary(self.clusters[n]) for n in page
                     if not wanted or self._cluster_status(self.clusters[n]) in wanted]
        return _encode(m.ListClustersResponseContent(clusters=summaries, next_token=token))

    def update_cluster(self, **kwargs):
        self._check_args("update-cluster", kwargs)
        cluster = self._get(kwargs["cluster_name"])
        target = kwargs["cluster_configuration"]
        target = yaml.safe_load(target) if isinstance(target, str) else target
        if self._cluster_status(cluster) not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED"):
            raise errors.BadRequestException("Cluster '%s' is in %s and cannot be updated."
                                             % (cluster.name, cluster.stack_status))
        self._refuse_invalid(errors.UpdateClusterBadRequestException, m.UpdateClusterBadRequestExceptionResponseContent)
        patch = ConfigPatch(ClusterView(cluster.name, cluster.fleet == "RUNNING"), cluster.config, target)
        allowed, rows = patch.check()
        from pcluster.api.controllers.cluster_operations_controller import _analyze_changes
        change_set, update_errors = _analyze_changes(rows)
        if not allowed:
            raise errors.UpdateClusterBadRequestException(m.UpdateClusterBadRequestExceptionResponseContent(
                message="Update failure", change_set=change_set, update_validation_errors=update_errors or None))
        if kwargs.get("dryrun"):
            raise errors.DryrunOperationException(change_set=change_set,
                                                  validation_messages=self._validation_messages())
        self._start(cluster, "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
        if not cluster.failure:
            cluster.config = target
        return _encode(m.UpdateClusterResponseContent(cluster=self._summary(cluster), change_set=change_set,
                                                      validation_messages=self._validation_messages()))

    def delete_cluster(self, **kwargs):
        self._check_args("delete-cluster", kwargs)
        cluster = self._get(kwargs["cluster_name"])
        cluster.stack_status = "DELETE_IN_PROGRESS"
        cluster.countdown = self.steps
        cluster.failure = None
        cluster.pending = ("DELETE_COMPLETE", cluster.fleet)
        return _encode(m.DeleteClusterResponseContent(cluster=self._summary(cluster, "DELETE_IN_PROGRESS")))

    def update_compute_fleet(self, **kwargs):
        self._check_args("update-compute-fleet", kwargs)
        cluster = self._get(kwargs["cluster_name"])
        status = kwargs["status"]
        if status == "STOP_REQUESTED":
            cluster.fleet, cluster.fleet_pending = status, ["STOPPING", "STOPPED"]
        elif status == "START_REQUESTED":
            cluster.fleet, cluster.fleet_pending = status, ["STARTING", "RUNNING"]
        else:
            raise errors.BadRequestException("the compute fleet of a Slurm cluster cannot be set to %s" % status)
        return _encode(m.UpdateComputeFleetResponseContent(status=cluster.fleet, last_status_updated_time=_now()))

    def describe_compute_fleet(self, **kwargs):
        self._check_args("describe-compute-fleet", kwargs)
        cluster = self._get(kwargs["cluster_name"])
        if cluster.fleet_pending:
            cluster.fleet = cluster.fleet_pending.pop(0)
        return _encode(m.DescribeComputeFleetResponseContent(status=cluster.fleet, last_status_updated_time=_now()))

    def get_cluster_stack_events(self, **kwargs):
        self._check_args("get-cluster-stack-events", kwargs)
        cluster = self._get(kwargs["cluster_name"])
        return _encode(m.GetClusterStackEventsResponseContent(events=list(cluster.events)))
