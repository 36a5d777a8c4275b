# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aws provider: a ParallelCluster cluster in a real account, driven through ``pcluster.lib``.

``pcluster.lib`` is aws-parallelcluster's Python face of ``pcluster``: the same operations,
the same payloads (camelCase, as the ParallelCluster API documents them) and the same errors.
This backend turns its asynchronous operations into the synchronous ones the module promises:
it follows ``clusterStatus`` and ``computeFleetStatus`` with backoff, stops and restarts the
compute fleet around an update that needs it, and on a failure gathers what the console would
show (the failures and the last stack events).
"""

from __future__ import annotations

import json
import os

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

from ansible.module_utils.urls import open_url

from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible_collections.hpc.parallelcluster.plugins.module_utils.waiter import WaitTimeout
from ansible_collections.hpc.parallelcluster.plugins.module_utils.waiter import wait_for

# computeFleetStatus values on the way to a stable one (pcluster.api.models.ComputeFleetStatus).
FLEET_TRANSITIONS = ("START_REQUESTED", "STARTING", "STOP_REQUESTED", "STOPPING")
FLEET_RUNNING = "RUNNING"
FLEET_STOPPED = "STOPPED"
DELETE_COMPLETE = "DELETE_COMPLETE"
STACK_EVENTS_KEPT = 10
CONFIG_NOT_AVAILABLE = "NOT_AVAILABLE"


class PclusterApiError(cb.BackendError):
    """An error answered by ParallelCluster, with its payload (validation messages, change set)."""

    def __init__(self, operation, kind, payload):
        self.operation = operation
        self.kind = kind
        self.payload = payload
        self.validation_messages = (payload.get("configurationValidationErrors")
                                    or payload.get("validationMessages") or [])
        self.update_errors = payload.get("updateValidationErrors") or []
        message = "%s: %s" % (operation, payload.get("message") or kind)
        lines = ["  %s %s: %s" % (m.get("level"), m.get("type"), m.get("message")) for m in self.validation_messages]
        lines += ["  %s: %s" % (e.get("parameter"), e.get("message")) for e in self.update_errors]
        if lines:
            message += "\n" + "\n".join(lines)
        details = {"validation_messages": self.validation_messages}
        if self.update_errors:
            details["update_errors"] = self.update_errors
        if payload.get("changeSet"):
            details["change_set"] = payload["changeSet"]
        super().__init__(message, failures=[{"failureCode": kind, "failureReason": payload.get("message") or kind}],
                         details=details)


def error_payload(exc):
    """The JSON payload of a pcluster error, in the API's camelCase whichever way it was raised."""
    content = getattr(exc, "content", None)  # pcluster.api.errors.ParallelClusterApiException
    if content is not None:
        try:
            from pcluster.api.encoder import JSONEncoder
            return json.loads(JSONEncoder().encode(content))
        except Exception:  # pylint: disable=broad-except
            to_dict = getattr(content, "to_dict", None)
            return to_dict() if to_dict else {"message": str(content)}
    data = getattr(exc, "data", None)  # pcluster.cli.exceptions.APIOperationException
    if isinstance(data, dict):
        return data
    return {"message": str(exc)}


def aws_environment(params):
    """Environment for boto3 inside pcluster.lib, from the module's AWS connection options.

    pcluster builds its own boto3 clients from the default chain; the module's options are
    handed over through the variables that chain reads (AWS_ENDPOINT_URL needs boto3 1.28+).
    """
    env = {}
    for option, variable in (("endpoint_url", "AWS_ENDPOINT_URL"), ("access_key", "AWS_ACCESS_KEY_ID"),
                             ("secret_key", "AWS_SECRET_ACCESS_KEY"), ("session_token", "AWS_SESSION_TOKEN"),
                             ("profile", "AWS_PROFILE"), ("region", "AWS_DEFAULT_REGION")):
        if params.get(option):
            env[variable] = params[option]
    return env


def fetch_url_config(url):
    """The cluster configuration behind describe-cluster's presigned S3 URL."""
    response = open_url(url, method="GET", timeout=30)
    return yaml.safe_load(response.read())


class AwsClusterBackend(cb.ClusterBackend):
    provider = "aws"

    def __init__(self, api, region=None, wait=True, wait_timeout=1800, validation_failure_level="ERROR",
                 suppress_validators=None, fetch_config=fetch_url_config, delays=(5.0, 60.0), sleep=None,
                 clock=None):
        self.api = api
        self.region = region
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.validation_failure_level = validation_failure_level
        self.suppress_validators = list(suppress_validators or [])
        self.fetch_config = fetch_config
        self.delays = delays
        self.timing = {k: v for k, v in (("sleep", sleep), ("clock", clock)) if v is not None}
        self.validation_messages = []

    # ------------------------------------------------------------ calls

    def _call(self, operation, **kwargs):
        if self.region:
            kwargs["region"] = self.region
        try:
            return getattr(self.api, operation)(**kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            if not hasattr(exc, "content") and not hasattr(exc, "data"):
                raise
            raise PclusterApiError(operation, type(exc).__name__, error_payload(exc)) from None

    def _validation_args(self):
        args = {"validation_failure_level": self.validation_failure_level}
        if self.suppress_validators:
            args["suppress_validators"] = self.suppress_validators
        return args

    def _describe_raw(self, name):
        try:
            return self._call("describe_cluster", cluster_name=name)
        except PclusterApiError as exc:
            if exc.kind == "NotFoundException":
                return None
            raise

    def _wait(self, what, predicate):
        try:
            return wait_for(predicate, self.wait_timeout, initial=self.delays[0], maximum=self.delays[1],
                            what=what, **self.timing)
        except WaitTimeout as exc:
            last = exc.last or {}
            raise cb.BackendError("%s (last clusterStatus %s, computeFleetStatus %s)"
                                  % (exc, last.get("clusterStatus"), last.get("computeFleetStatus"))) from None

    def _wait_cluster(self, name, transitional, what):
        def settled():
            current = self._describe_raw(name)
            if current is None:
                return True, None
            return (current.get("clusterStatus") not in transitional
                    and current.get("computeFleetStatus") not in FLEET_TRANSITIONS), current
        return self._wait("%s of %s" % (what, name), settled)

    def stack_events(self, name, limit=STACK_EVENTS_KEPT):
        """The newest stack events of the cluster, newest first (get-cluster-stack-events)."""
        try:
            return (self._call("get_cluster_stack_events", cluster_name=name).get("events") or [])[:limit]
        except PclusterApiError:
            return []

    def _failed(self, name, current, what):
        events = self.stack_events(name)
        failures = current.get("failures") or [
            {"failureCode": "%sFailure" % what.capitalize(),
             "failureReason": event.get("resourceStatusReason")}
            for event in events if str(event.get("resourceStatus", "")).endswith("_FAILED")
            and event.get("resourceStatusReason")][:1]
        reasons = "; ".join("%s: %s" % (f.get("failureCode"), f.get("failureReason")) for f in failures)
        return cb.BackendError("%s of %s ended in %s%s" % (what, name, current.get("clusterStatus"),
                                                           ": " + reasons if reasons else ""),
                               failures=failures or None, details={"stack_events": events})

    # ------------------------------------------------------------ the ClusterBackend interface

    def describe(self, name):
        current = self._describe_raw(name)
        if current is None:
            return None
        url = (current.get("clusterConfiguration") or {}).get("url")
        current["clusterConfigurationUrl"] = url
        current["clusterConfiguration"] = None
        if url and url != CONFIG_NOT_AVAILABLE:
            try:
                current["clusterConfiguration"] = self.fetch_config(url)
            except Exception as exc:  # pylint: disable=broad-except
                raise cb.BackendError("cannot read the configuration of %s from %s: %s" % (name, url, exc)) from None
        return current

    def describe_settled(self, name):
        """A re-run while ParallelCluster is still busy waits for it, instead of failing on a busy stack."""
        current = self._describe_raw(name)
        busy = (cb.CREATE_IN_PROGRESS, cb.UPDATE_IN_PROGRESS, cb.DELETE_IN_PROGRESS)
        if current is not None and current.get("clusterStatus") in busy:
            if not self.wait:
                raise cb.BackendError("%s is %s; run again with wait: true or once it has finished"
                                      % (name, current["clusterStatus"]))
            self._wait_cluster(name, busy, "the operation in progress")
        return self.describe(name)

    def list_clusters(self):
        clusters, token = [], None
        while True:
            kwargs = {"next_token": token} if token else {}
            page = self._call("list_clusters", **kwargs)
            clusters.extend(page.get("clusters") or [])
            token = page.get("nextToken")
            if not token:
                return clusters

    def plan(self, name, config, check_mode=False):
        """Nothing is written on a head node by this backend: ParallelCluster's cookbook does it."""
        return []

    def dry_run(self, name, config, creating):
        """ParallelCluster's own dry run: validators and change set, nothing created or changed."""
        operation = "create_cluster" if creating else "update_cluster"
        try:
            self._call(operation, cluster_name=name, cluster_configuration=config, dryrun=True,
                       **self._validation_args())
        except PclusterApiError as exc:
            if exc.kind != "DryrunOperationException":
                raise
            return {"message": exc.payload.get("message"), "validation_messages": exc.validation_messages,
                    "change_set": exc.payload.get("changeSet") or []}
        raise cb.BackendError("%s with dryrun did not answer with DryrunOperationException" % operation)

    def validation_report(self):
        return {"validation_messages": self.validation_messages}

    def create(self, name, config, rollback_on_failure=True):
        existing = self._describe_raw(name)
        if existing is not None and existing.get("clusterStatus") == cb.CREATE_FAILED:
            # A failed stack stays until deleted; ParallelCluster refuses a new one with its name.
            self.delete(name, force_wait=True)
        answer = self._call("create_cluster", cluster_name=name, cluster_configuration=config,
                            rollback_on_failure=rollback_on_failure, **self._validation_args())
        self.validation_messages = answer.get("validationMessages") or []
        if self.wait:
            current = self._wait_cluster(name, (cb.CREATE_IN_PROGRESS,), "creation")
            if current is None or current.get("clusterStatus") == cb.CREATE_FAILED:
                raise self._failed(name, current or {"clusterStatus": cb.CREATE_FAILED}, "creation")
        return self.describe(name)

    def set_fleet(self, name, status):
        """Request START_REQUESTED or STOP_REQUESTED and wait for RUNNING or STOPPED."""
        target = FLEET_RUNNING if status == "START_REQUESTED" else FLEET_STOPPED
        self._call("update_compute_fleet", cluster_name=name, status=status)

        def reached():
            fleet = self._call("describe_compute_fleet", cluster_name=name)
            return fleet.get("status") == target, {"computeFleetStatus": fleet.get("status")}
        return self._wait("computeFleetStatus %s of %s" % (target, name), reached)

    def set_compute_fleet(self, name, running):
        self.set_fleet(name, "START_REQUESTED" if running else "STOP_REQUESTED")
        return self.describe(name)

    def update(self, name, config, fleet_stop=False, touched_prefixes=()):
        """Update in place; with ``fleet_stop`` the fleet is stopped first and started again after.

        Stopping the fleet forces waiting: ParallelCluster applies the update only to a stopped
        fleet, and the fleet may only start again once the update has finished.
        """
        if fleet_stop:
            self.set_fleet(name, "STOP_REQUESTED")
        try:
            answer = self._call("update_cluster", cluster_name=name, cluster_configuration=config,
                                **self._validation_args())
            self.validation_messages = answer.get("validationMessages") or []
            if self.wait or fleet_stop:
                current = self._wait_cluster(name, (cb.UPDATE_IN_PROGRESS,), "update")
                if current is None or current.get("clusterStatus") != cb.UPDATE_COMPLETE:
                    raise self._failed(name, current or {"clusterStatus": cb.UPDATE_FAILED}, "update")
        finally:
            if fleet_stop:
                # Also after a failed update, which ParallelCluster rolls back: the fleet runs again.
                self.set_fleet(name, "START_REQUESTED")
        return self.describe(name)

    def repair(self, name, check_mode=False):
        """A running cluster is ParallelCluster's to heal; nothing is changed here."""
        return False

    def delete(self, name, force_wait=False):
        current = self._describe_raw(name)
        if current is None:
            return False
        if current.get("clusterStatus") != cb.DELETE_IN_PROGRESS:
            self._call("delete_cluster", cluster_name=name)
        if self.wait or force_wait:
            current = self._wait_cluster(name, (cb.DELETE_IN_PROGRESS,), "deletion")
            if current is not None and current.get("clusterStatus") != DELETE_COMPLETE:
                raise self._failed(name, current, "deletion")
        return True

    def data_repository_task(self, name, task_type, paths=None, storage_name=None, check_mode=False):
        raise cb.BackendError("data repository tasks of provider aws are FSx's own: use the FSx API "
                              "(CreateDataRepositoryTask) on the cluster's file system")


def load_pcluster_lib():
    """Import pcluster.lib only when a task needs it: it loads ParallelCluster's whole API model."""
    import pcluster.lib as pcluster_lib  # pylint: disable=import-outside-toplevel
    return pcluster_lib


def apply_environment(env):
    os.environ.update(env)
