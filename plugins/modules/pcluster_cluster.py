#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pcluster_cluster
short_description: Create, update and delete an AWS ParallelCluster cluster (Slurm)
version_added: 0.1.0
description:
  - Manages a cluster described by an AWS ParallelCluster configuration (the YAML that
    C(pcluster create-cluster --cluster-configuration) takes), the way C(pcluster create-cluster),
    C(update-cluster) and C(delete-cluster) do.
  - The configuration is validated with ParallelCluster's own schema before anything is created
    or changed; errors name the offending field.
  - With O(provider=local) the cluster is a real Slurm cluster on the target host, its head node;
    slurmctld and munge run there (and slurmdbd on MariaDB when the configuration has
    C(Scheduling.SlurmSettings.Database)), and compute nodes are network namespaces
    powered up and down by Slurm's own power saving, as ParallelCluster scales on EC2. Instance
    types are looked up through the EC2 API (point it at the local AWS API emulator with
    O(endpoint_url)), and FSx for Lustre C(ImportPath) content is copied from S3 into the mount
    directory at create.
  - With O(provider=local), C(Scheduling.SlurmSettings.Database) is checked against the AWS API as the
    head node would use it. C(Uri) must be the endpoint of an RDS database of the account, and the
    C(PasswordSecretArn) secret must hold the password. The head node's MariaDB then serves that
    database, and slurmdbd logs in with C(UserName) and the secret's password. Without C(Database)
    the cluster keeps no accounting, as on ParallelCluster.
  - With O(provider=aws) the cluster is a real ParallelCluster cluster in an AWS account, created,
    updated and deleted through C(pcluster.lib) from aws-parallelcluster (the library behind the
    C(pcluster) command). Credentials come from the usual AWS chain or the AWS connection options;
    O(endpoint_url) points every call at another endpoint (an AWS API emulator, for example).
  - In check mode with O(provider=aws), ParallelCluster's own dry run validates the request
    (C(pcluster create-cluster --dryrun true) or C(update-cluster --dryrun true)) and its
    validation messages are returned in RV(validation_messages); nothing is created or changed.
  - With O(provider=local), ParallelCluster's validators run as its dry run runs them (in check mode,
    and before a create or update changes anything), with the account data of the AWS API that
    O(endpoint_url) points at (the local AWS API emulator), so that the local provider refuses what
    C(pcluster create-cluster) refuses, with the same messages. What the emulator cannot answer is
    listed in RV(suppressed_validators) and RV(locally_answered).
  - With O(provider=local), every setting of ParallelCluster's schema is either built, has no effect on a
    local cluster (returned in RV(without_effect), with one warning), or is refused before anything changes
    (RV(refused)), such as C(LoginNodes), C(CustomActions), C(DirectoryService) or shared storage other than
    C(Ebs) and C(FsxLustre). The table is in the collection's C(docs/validation.md).
  - The result has the shape of C(pcluster describe-cluster), with ParallelCluster's status values.
  - An update is judged by ParallelCluster's own update policies (the change set of
    C(pcluster update-cluster)). Every changed setting is returned in RV(update_plan) with its policy and check, a change
    that ParallelCluster refuses fails the task before anything changes, and one that needs the
    compute fleet stopped follows O(allow_fleet_stop). Running nodes that an update removes or
    changes follow the configuration's C(QueueUpdateStrategy) (C(TERMINATE) powers them down now,
    C(DRAIN) after their jobs).
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
options:
  name:
    description:
      - Name of the cluster.
      - ParallelCluster's rule applies with every O(state) - 2 to 60 characters, letters, digits and
        hyphens only, starting with a letter (at most 40 when the configuration sets up Slurm
        accounting). Any other name is refused before anything is read or changed.
    type: str
    required: true
    aliases: [cluster_name]
  state:
    description:
      - V(present) creates the cluster, or updates it when the configuration differs.
      - V(absent) deletes it and everything it created.
    type: str
    choices: [present, absent]
    default: present
  config:
    description:
      - The cluster configuration as a dictionary, in ParallelCluster's YAML format.
      - Mutually exclusive with O(config_file). One of them is required with O(state=present).
    type: dict
  config_file:
    description:
      - Path on the target host of a ParallelCluster cluster configuration YAML file.
    type: path
  provider:
    description:
      - Where the cluster lives. V(local) runs it on the target host, V(aws) in an AWS account
        through aws-parallelcluster's C(pcluster.lib).
    type: str
    choices: [local, aws]
    default: local
  wait:
    description:
      - Wait until the cluster reaches a stable status (C(CREATE_COMPLETE), C(UPDATE_COMPLETE)) or is deleted.
      - With O(provider=aws) the wait follows C(clusterStatus) and C(computeFleetStatus) with a growing
        delay between two C(describe-cluster) calls, and a create or update that ends in
        C(CREATE_FAILED) or C(UPDATE_FAILED) fails the task with RV(failures) and RV(stack_events).
        An update that stops the compute fleet always waits, as the fleet can only start again after it.
      - The local provider always completes its work before returning.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait when O(wait=true).
    type: int
    default: 1800
  rollback_on_failure:
    description:
      - When creation fails, delete what was created (C(pcluster create-cluster --rollback-on-failure)).
      - With V(false) the failed cluster stays for inspection in C(CREATE_FAILED); running the task
        again retries the creation.
    type: bool
    default: true
  validation_failure_level:
    description:
      - The lowest level of ParallelCluster's validation messages that makes a create or update fail
        (C(pcluster --validation-failure-level)), with either provider.
    type: str
    choices: [INFO, WARNING, ERROR]
    default: ERROR
  suppress_validators:
    description:
      - ParallelCluster validators to skip, as C(pcluster --suppress-validators) takes them - V(ALL) or
        V(type:<ValidatorName>) (for example V(type:KeyPairValidator)), with either provider.
      - With O(provider=local), the validators that the AWS API emulator cannot answer are skipped
        whatever this says; RV(suppressed_validators) lists them.
    type: list
    elements: str
    default: []
  allow_fleet_stop:
    description:
      - When an update changes settings whose ParallelCluster update policy needs the compute fleet
        stopped (for example C(ScaledownIdletime) or a compute resource's C(InstanceType)), V(true)
        stops the fleet (running jobs are requeued), applies the update and starts the fleet again,
        as C(pcluster update-compute-fleet) and C(update-cluster) would by hand.
      - With V(false) such an update fails before anything changes, listing the settings and their policies.
    type: bool
    default: false
  compute_fleet:
    description:
      - The compute fleet's state once the cluster matches its configuration, as
        C(pcluster update-compute-fleet --status START_REQUESTED|STOP_REQUESTED) sets it.
      - V(stopped) makes every queue inactive and powers every compute node down (running jobs
        are requeued); V(running) makes the queues take jobs again and powers static nodes up.
      - Omitted, the fleet is left as it is.
    type: str
    choices: [running, stopped]
  local_node_network:
    description:
      - With O(provider=local), the IPv4 network of the compute nodes. The head node takes the first
        address on a bridge, each compute node the next ones.
    type: str
    default: 10.253.0.0/22
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be created, changed or deleted, with a diff of the configuration.
  diff_mode:
    support: full
  platform:
    platforms: posix
requirements:
  - aws-parallelcluster (its configuration schema validates the config)
  - boto3
  - PyYAML
notes:
  - O(provider=local) needs root on the target host and the packages installed by the
    P(hpc.parallelcluster.pcluster#role) role. Only one local cluster can exist per host.
"""

EXAMPLES = r"""
- name: Create the recipe's cluster on this machine
  hpc.parallelcluster.pcluster_cluster:
    name: hpc-cluster
    provider: local
    config_file: /etc/hpc/cluster-config.yaml
    endpoint_url: http://127.0.0.1:5000
    region: us-east-1

- name: Create a cluster from an inline configuration
  hpc.parallelcluster.pcluster_cluster:
    name: hpc-cluster
    config:
      Region: us-east-1
      Image:
        Os: alinux2
      HeadNode:
        InstanceType: m5.large
        Networking:
          SubnetId: "{{ public_subnet_id }}"
        Ssh:
          KeyName: "{{ key_name }}"
      Scheduling:
        Scheduler: slurm
        SlurmQueues:
          - Name: compute
            ComputeResources:
              - Name: compute-nodes
                InstanceType: c5n.large
                MinCount: 0
                MaxCount: 10
            Networking:
              SubnetIds:
                - "{{ private_subnet_id }}"
  register: cluster

- name: Stop the compute fleet (queues inactive, nodes powered down), as pcluster update-compute-fleet does
  hpc.parallelcluster.pcluster_cluster:
    name: hpc-cluster
    config_file: /etc/hpc/cluster-config.yaml
    compute_fleet: stopped

- name: Start a create without waiting for it, then watch it (a create on AWS takes 15 to 30 minutes)
  hpc.parallelcluster.pcluster_cluster:
    name: hpc-cluster
    provider: aws
    config_file: /etc/hpc/cluster-config.yaml
    wait: false

- name: Watch the create, one line per poll
  hpc.parallelcluster.pcluster_cluster_info:
    name: hpc-cluster
    provider: aws
  register: watched
  until: watched.cluster.clusterStatus | default('') not in ['CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS']
  retries: 60
  delay: 30

- name: Delete it
  hpc.parallelcluster.pcluster_cluster:
    name: hpc-cluster
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster as C(pcluster describe-cluster) reports it. Empty after a delete.
  returned: always
  type: dict
  contains:
    clusterName:
      description: Name of the cluster.
      type: str
      sample: hpc-cluster
    clusterStatus:
      description: ParallelCluster's status of the cluster.
      type: str
      sample: CREATE_COMPLETE
    computeFleetStatus:
      description: Status of the compute fleet.
      type: str
      sample: RUNNING
    version:
      description: ParallelCluster version the cluster follows.
      type: str
      sample: 3.15.1
    region:
      description: The cluster's region.
      type: str
    headNode:
      description: The head node (instanceId, instanceType, privateIpAddress, publicIpAddress, state, launchTime).
      type: dict
    clusterConfiguration:
      description: The configuration the cluster runs with.
      type: dict
    failures:
      description: Why a create or update failed (failureCode, failureReason).
      type: list
      elements: dict
    creationTime:
      description: When the cluster was created.
      type: str
    lastUpdatedTime:
      description: When the cluster last changed.
      type: str
update_plan:
  description: With an update, ParallelCluster's change set and what the update does about it.
  returned: when an existing cluster's configuration changes
  type: dict
  contains:
    changes:
      description:
        - One entry per changed setting - C(parameter) (a path such as
          C(Scheduling.SlurmQueues[compute].ComputeResources[cr].MaxCount)), C(old_value), C(new_value),
          C(update_policy) (ParallelCluster's, for example C(COMPUTE_FLEET_STOP)), C(check)
          (C(SUCCEEDED), C(ACTION NEEDED) or C(FAILED)), C(reason) and C(action_needed).
      type: list
      elements: dict
    fleet_stop:
      description: Whether the update stops and restarts the compute fleet.
      type: bool
    queue_update_strategy:
      description: The C(QueueUpdateStrategy) of the new configuration.
      type: str
      sample: TERMINATE
validation_messages:
  description:
    - ParallelCluster's validation messages (C(level), C(type), C(message)) from the dry run in check
      mode, from the create or update, or from the request it refused.
  returned: on create, update and check mode
  type: list
  elements: dict
  sample: [{"level": "WARNING", "type": "KeyPairValidator", "message": "..."}]
suppressed_validators:
  description:
    - With O(provider=local), the ParallelCluster validators that are skipped because the AWS API emulator
      cannot answer them as AWS would (C(type), C(reason)), whatever the configuration.
  returned: with provider local, on create, update and check mode
  type: list
  elements: dict
  sample: [{"type": "HeadNodeLaunchTemplateValidator", "reason": "..."}]
locally_answered:
  description:
    - With O(provider=local), the look-ups that the provider answers itself instead of the AWS API
      emulator (C(type), C(reason)), for example ParallelCluster's official images.
  returned: with provider local, on create, update and check mode
  type: list
  elements: dict
validation_skipped:
  description:
    - With O(provider=local) in check mode, why ParallelCluster's validators did not run - the
      configuration names subnets or an FSx bucket that the AWS API does not have yet (the roles that
      create them have not run in check mode). They run before the real create or update.
  returned: with provider local, in check mode, when the validators did not run
  type: str
change_set:
  description: With O(provider=aws) in check mode, ParallelCluster's change set of an update (parameter, currentValue, requestedValue).
  returned: with provider aws, when an update is checked
  type: list
  elements: dict
failures:
  description: Why a create or update failed (failureCode, failureReason).
  returned: on failure
  type: list
  elements: dict
stack_events:
  description:
    - With O(provider=aws), the newest CloudFormation events of the cluster's stack (as
      C(pcluster get-cluster-stack-events) returns them) when a create, update or delete failed.
  returned: on failure with provider aws
  type: list
  elements: dict
compute_fleet_change:
  description: When O(compute_fleet) changed the fleet (or would, in check mode), its status before and after.
  returned: when the compute fleet was started or stopped
  type: dict
  sample: {"before": "RUNNING", "after": "STOPPED"}
without_effect:
  description:
    - With O(provider=local), the settings of the configuration that change nothing on a local cluster
      (C(path), such as C(HeadNode.Iam) or C(Scheduling.SlurmQueues[0].Networking), and C(reason)), as
      C(plugins/module_utils/local_support.py) lists them; one warning names them too.
    - Settings a local cluster cannot honour (for example C(LoginNodes), C(CustomActions),
      C(DirectoryService)) fail the task before anything changes, listed in RV(refused).
  returned: with provider local, when state is present
  type: list
  elements: dict
  sample: [{"path": "HeadNode.Iam", "reason": "IAM roles and policies of EC2 instances; ..."}]
refused:
  description:
    - With O(provider=local), the settings of the configuration that a local cluster cannot honour
      (C(path) and C(reason), with what to do instead). The task fails before anything changes.
  returned: on failure, with provider local, when the configuration has such settings
  type: list
  elements: dict
  sample: [{"path": "LoginNodes", "reason": "the local provider builds no login nodes; ..."}]
changed_files:
  description: With O(provider=local), the head node files that were (or in check mode would be) written.
  returned: when state is present
  type: list
  elements: str
"""

import copy

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.hpc.parallelcluster.plugins.module_utils import cluster_backend as cb
from ansible.module_utils.basic import missing_required_lib
from ansible_collections.hpc.parallelcluster.plugins.module_utils.cluster_config import (
    HAS_PCLUSTER,
    PCLUSTER_IMPORT_ERROR,
    ClusterConfigError,
    load_cluster_config,
    validate_cluster_config,
)
from ansible_collections.hpc.parallelcluster.plugins.module_utils.backend_factory import cluster_backend
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_daemons import DaemonError
from ansible_collections.hpc.parallelcluster.plugins.module_utils import local_support
from ansible_collections.hpc.parallelcluster.plugins.module_utils.update_plan import (
    plan_update,
    queue_update_strategy,
    touched_node_prefixes,
)

# compute_fleet's choices as the computeFleetStatus that ParallelCluster reports once it is reached.
FLEET_STATUS = {"running": "RUNNING", "stopped": "STOPPED"}


def _yaml(config):
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=True) if config else ""


def _describe_change(change):
    text = "%s (%s -> %s): %s" % (change["parameter"], change["old_value"], change["new_value"], change["update_policy"])
    if change.get("reason"):
        text += ", %s" % change["reason"]
    if change.get("action_needed"):
        text += "; %s" % change["action_needed"]
    return text


def _update_plan(module, name, current, config):
    """ParallelCluster's verdict on the update; fails before anything changes when it is refused."""
    plan = plan_update(name, current["clusterConfiguration"], config,
                       fleet_running=current.get("computeFleetStatus") == "RUNNING")
    result = {"changes": plan["changes"], "fleet_stop": plan["fleet_stop"],
              "queue_update_strategy": queue_update_strategy(config)}
    if plan["blocked"]:
        module.fail_json(msg="ParallelCluster's update policies refuse this update of %s; nothing was changed:\n%s"
                         % (name, "\n".join(_describe_change(c) for c in plan["blocked"])), update_plan=result)
    if plan["fleet_stop"] and not module.params["allow_fleet_stop"]:
        needing = [c for c in plan["changes"] if c["check"] != "SUCCEEDED"]
        module.fail_json(msg="this update of %s needs the compute fleet stopped; nothing was changed. Set "
                             "allow_fleet_stop: true to stop the fleet (running jobs are requeued), update and "
                             "start it again:\n%s" % (name, "\n".join(_describe_change(c) for c in needing)),
                         update_plan=result)
    return result


def _provider_results(backend, dry_run=None):
    """What the provider adds to the result: ParallelCluster's validation messages and change set, and
    (local provider) the validators it skips or answers itself."""
    if dry_run is None:
        return backend.validation_report()
    extra = {"validation_messages": dry_run.get("validation_messages") or []}
    for key in ("change_set", "suppressed_validators", "locally_answered", "validation_skipped"):
        if dry_run.get(key):
            extra[key] = dry_run[key]
    return extra


def _describe_quietly(backend, name):
    try:
        return backend.describe(name) or {}
    except cb.BackendError:
        return {}


def _absent(module, backend, name):
    try:
        current = backend.describe_settled(name)
    except cb.DamagedRecordError as exc:
        # The delete still cleans up what it can and warns about what it leaves.
        if module.check_mode:
            module.warn(str(exc))
        current = {}
    if current is None:
        module.exit_json(changed=False, cluster={})
    diff = {"before": _yaml(current.get("clusterConfiguration")), "after": "",
            "before_header": "%s (current)" % name, "after_header": "%s (deleted)" % name}
    if not module.check_mode:
        backend.delete(name)
    module.exit_json(changed=True, cluster={}, diff=diff)


def _local_support(module, backend, name, config):
    """provider local: refuse the settings a local cluster cannot honour, before anything changes, and
    return the ones that change nothing (with one warning). ParallelCluster's own verdict comes first,
    as on aws: a config its validators refuse fails with their messages."""
    refused = local_support.refused(config)
    if refused:
        current = _describe_quietly(backend, name)
        creating = not current or current.get("clusterStatus") == cb.CREATE_FAILED
        dry_run = backend.dry_run(name, config, creating=creating) or {}
        module.fail_json(msg=local_support.refusal_message(refused), refused=refused,
                         validation_messages=dry_run.get("validation_messages") or [])
    found = local_support.without_effect(config)
    if found:
        module.warn(local_support.warning_message(found))
    return {"without_effect": found}


def _present(module, backend, name, config, extra=None):
    extra = extra or {}
    current = backend.describe_settled(name)
    creating = current is None or current["clusterStatus"] == cb.CREATE_FAILED
    before = None if creating else current.get("clusterConfiguration")
    adopted = None
    if before is not None and before != config:
        adopted = backend.adopt_replaced_network(name, config, check_mode=module.check_mode)
        if adopted is not None:
            before = current["clusterConfiguration"] = adopted
    diff = {"before": _yaml(before), "after": _yaml(config),
            "before_header": "%s (current)" % name, "after_header": "%s (desired)" % name}
    # Instance types and buckets are checked here, before anything changes.
    pending = backend.plan(name, config, check_mode=module.check_mode)
    if creating:
        if module.check_mode:
            planned = {"clusterName": name, "clusterStatus": cb.CREATE_IN_PROGRESS, "computeFleetStatus": "RUNNING"}
            module.exit_json(**_compute_fleet(module, backend, name, dict(
                changed=True, diff=diff, changed_files=pending, cluster=planned,
                **dict(extra, **_provider_results(backend, backend.dry_run(name, config, creating=True))))))
        result = backend.create(name, config, rollback_on_failure=module.params["rollback_on_failure"])
        out = dict(changed=True, cluster=result, diff=diff, changed_files=pending, **_provider_results(backend))
    elif before != config:
        plan = _update_plan(module, name, current, config)
        if module.check_mode:
            planned = copy.deepcopy(current)
            planned["clusterStatus"] = cb.UPDATE_IN_PROGRESS
            module.exit_json(**_compute_fleet(module, backend, name, dict(
                changed=True, diff=diff, changed_files=pending, cluster=planned, update_plan=plan,
                **dict(extra, **_provider_results(backend, backend.dry_run(name, config, creating=False))))))
        result = backend.update(name, config, fleet_stop=plan["fleet_stop"],
                                touched_prefixes=touched_node_prefixes(plan["changes"]))
        out = dict(changed=True, cluster=result, diff=diff, changed_files=pending, update_plan=plan,
                   **_provider_results(backend))
    else:
        changed = backend.repair(name, check_mode=module.check_mode) or adopted is not None
        out = dict(changed=changed, cluster=backend.describe(name), changed_files=pending if changed else [])
    out.update(extra)
    module.exit_json(**_compute_fleet(module, backend, name, out))


def _compute_fleet(module, backend, name, out):
    """compute_fleet, once the cluster is as its config says: start or stop the fleet when it differs."""
    wanted = module.params["compute_fleet"]
    if wanted is None:
        return out
    target = FLEET_STATUS[wanted]
    current = (out.get("cluster") or {}).get("computeFleetStatus")
    if current == target:
        return out
    out.update(changed=True, compute_fleet_change={"before": current, "after": target})
    if not module.check_mode:
        out["cluster"] = backend.set_compute_fleet(name, wanted == "running")
    return out


def main():
    argument_spec = dict(
        name=dict(type="str", required=True, aliases=["cluster_name"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        config=dict(type="dict"),
        config_file=dict(type="path"),
        provider=dict(type="str", default="local", choices=["local", "aws"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        rollback_on_failure=dict(type="bool", default=True),
        validation_failure_level=dict(type="str", default="ERROR", choices=["INFO", "WARNING", "ERROR"]),
        suppress_validators=dict(type="list", elements="str", default=[]),
        allow_fleet_stop=dict(type="bool", default=False),
        compute_fleet=dict(type="str", choices=["running", "stopped"]),
        local_node_network=dict(type="str", default="10.253.0.0/22"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("config", "config_file")],
        required_if=[("state", "present", ("config", "config_file"), True)],
        supports_check_mode=True,
    )
    if yaml is None:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    if not HAS_PCLUSTER:
        module.fail_json(msg=missing_required_lib("aws-parallelcluster"), exception=PCLUSTER_IMPORT_ERROR)
    name = module.params["name"]
    try:
        cb.check_cluster_name(name)
    except cb.InvalidClusterName as exc:
        module.fail_json(msg="%s; nothing was read or changed" % exc, failures=exc.failures)
    backend = cluster_backend(module)
    try:
        if module.params["state"] == "absent":
            _absent(module, backend, name)
        config = load_cluster_config(module.params["config"], module.params["config_file"])
        # Accounting rules (name length, deny list) apply when the config sets up accounting
        # (SlurmSettings.Database), on both providers, as in pcluster.
        validate_cluster_config(config, name, provider=module.params["provider"], region=module.params["region"])
        extra = _local_support(module, backend, name, config) if module.params["provider"] == "local" else {}
        _present(module, backend, name, config, extra)
    except ClusterConfigError as exc:
        module.fail_json(msg="invalid cluster configuration for %s:\n%s" % (name, exc),
                         errors=[{"field": f, "message": m} for f, m in exc.errors])
    except cb.BackendError as exc:
        module.fail_json(msg=str(exc), failures=exc.failures, cluster=_describe_quietly(backend, name), **exc.details)
    except DaemonError as exc:
        module.fail_json(msg=str(exc), cluster=_describe_quietly(backend, name))


if __name__ == "__main__":
    main()
