#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_dashboard
short_description: Create, update and delete Amazon CloudWatch dashboards
version_added: 0.1.0
description:
  - Manages one CloudWatch dashboard, the way C(aws cloudwatch put-dashboard) and
    C(aws cloudwatch delete-dashboards) do.
  - The body is compared with the dashboard's current body as data, so key order, whitespace and
    the choice between a dictionary and a JSON string never cause a change.
  - The body is checked before anything is sent (a JSON object with a C(widgets) list), so check
    mode catches what C(PutDashboard) would reject for its structure. Validation messages returned
    by C(PutDashboard) fail the task with their data paths; warnings are reported as warnings.
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
options:
  name:
    description:
      - Name of the dashboard.
      - Up to 255 characters among letters, digits, V(-) and V(_).
    type: str
    required: true
    aliases: [dashboard_name]
  state:
    description:
      - V(present) creates the dashboard, or replaces its body when it differs from O(body).
      - V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  body:
    description:
      - The dashboard body (the C(DashboardBody) of C(PutDashboard)), as a dictionary or a JSON string.
      - It must be a JSON object with a C(widgets) list. See
        U(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html).
      - Required with O(state=present).
    type: raw
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
  - hpc.parallelcluster.attributes
  - hpc.parallelcluster.attributes.aws_group
attributes:
  check_mode:
    support: full
    details: Reports whether the dashboard would be created, changed or deleted, with the diff.
  diff_mode:
    support: full
    details: The body before and after, as indented JSON with sorted keys.
notes:
  - Dashboards are global to the account; O(region) only selects the API endpoint.
  - The module is in the C(hpc.parallelcluster.aws) action group, so C(module_defaults) for
    C(group/hpc.parallelcluster.aws) set its connection options.
seealso:
  - module: amazon.aws.cloudwatch_metric_alarm
"""

EXAMPLES = r"""
- name: The recipe's cluster dashboard
  hpc.parallelcluster.cloudwatch_dashboard:
    name: hpc-cluster-performance
    body:
      widgets:
        - type: metric
          properties:
            metrics:
              - [AWS/EC2, CPUUtilization, ClusterName, hpc-cluster]
              - [AWS/EC2, NetworkIn, ClusterName, hpc-cluster]
              - [AWS/EC2, NetworkOut, ClusterName, hpc-cluster]
            period: 300
            stat: Average
            region: us-east-1
            title: HPC Cluster Metrics

- name: A dashboard from a JSON file kept next to the playbook
  hpc.parallelcluster.cloudwatch_dashboard:
    name: hpc-cluster-performance
    body: "{{ lookup('ansible.builtin.file', 'dashboard-config.json') }}"

- name: Delete it
  hpc.parallelcluster.cloudwatch_dashboard:
    name: hpc-cluster-performance
    state: absent
"""

RETURN = r"""
dashboard:
  description:
    - The dashboard as it is after the task (in check mode, as it would be). Empty after a delete.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the dashboard.
      type: str
      sample: hpc-cluster-performance
    arn:
      description:
        - ARN of the dashboard.
        - Not returned when check mode reports a dashboard that does not exist yet.
      type: str
      sample: arn:aws:cloudwatch::123456789012:dashboard/hpc-cluster-performance
    body:
      description: The dashboard body.
      type: dict
      sample: {"widgets": [{"type": "metric", "properties": {"title": "HPC Cluster Metrics"}}]}
validation_messages:
  description:
    - The C(DashboardValidationMessages) of C(PutDashboard). With a dashboard it stored they are
      warnings (elements that might not render); otherwise they are why it refused the body and
      the task fails.
  returned: when the dashboard was written or refused
  type: list
  elements: dict
  contains:
    data_path:
      description: Where in the body the message applies.
      type: str
      sample: /widgets/0/properties
    message:
      description: What is wrong.
      type: str
"""

import json
import re

try:
    import botocore
except ImportError:  # pragma: no cover - AnsibleAWSModule reports the missing library
    pass

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# PutDashboard's rule for DashboardName.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


class BodyError(ValueError):
    """The body is not something PutDashboard can accept."""


def parse_body(body):
    """The body as a dict, from a dict or a JSON string; BodyError says why it cannot be one."""
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError as e:
            raise BodyError("body is not valid JSON: %s" % e)
    if not isinstance(body, dict):
        raise BodyError("body must be a JSON object, got %s" % type(body).__name__)
    if not isinstance(body.get("widgets"), list):
        raise BodyError("body must have a 'widgets' list (the dashboard's widgets, possibly empty)")
    # A JSON round trip turns tuples into lists and proves the dict serialises, so the comparison
    # with the body read back from CloudWatch compares like with like.
    try:
        return json.loads(json.dumps(body))
    except (TypeError, ValueError) as e:
        raise BodyError("body cannot be serialised as JSON: %s" % e)


def pretty(body):
    """Stable text of a body for the diff; empty when there is no dashboard."""
    if body is None:
        return ""
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def format_validation_messages(messages):
    """'<path>: <message>' lines from DashboardValidationMessages (either casing of the keys)."""
    lines = []
    for item in messages or []:
        path = item.get("DataPath") or item.get("dataPath") or "/"
        text = item.get("Message") or item.get("message") or ""
        lines.append("%s: %s" % (path, text))
    return lines


def rejection_message(name, error):
    """A fail_json message for a PutDashboard rejection, with its validation messages."""
    response = getattr(error, "response", {}) or {}
    messages = response.get("dashboardValidationMessages") or response.get("DashboardValidationMessages")
    detail = response.get("Error", {}).get("Message") or response.get("message") or str(error)
    text = "PutDashboard rejected the body of dashboard %s: %s" % (name, detail)
    lines = format_validation_messages(messages)
    if lines:
        text += " (" + "; ".join(lines) + ")"
    return text


def get_dashboard(module, client, name):
    """The current dashboard as {'name', 'arn', 'body'}, or None when it does not exist."""
    try:
        result = client.get_dashboard(DashboardName=name, aws_retry=True)
    except is_boto3_error_code("ResourceNotFound"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg="Could not read dashboard %s" % name)
    raw = result.get("DashboardBody") or "{}"
    try:
        body = json.loads(raw)
    except ValueError:
        # Cannot happen through PutDashboard; keep the text so the diff shows what is there.
        body = raw
    return {"name": result.get("DashboardName", name), "arn": result.get("DashboardArn"), "body": body}


def snake_messages(messages):
    return [{"data_path": m.get("DataPath") or m.get("dataPath"), "message": m.get("Message") or m.get("message")}
            for m in messages or []]


def put_dashboard(module, client, name, body):
    """Write the body; fails on rejection, returns the DashboardValidationMessages of a success."""
    try:
        result = client.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body), aws_retry=True)
    except is_boto3_error_code(["InvalidParameterInput", "DashboardInvalidInputError"]) as e:
        messages = e.response.get("dashboardValidationMessages") or e.response.get("DashboardValidationMessages")
        module.fail_json(msg=rejection_message(name, e), error=e.response.get("Error", {}),
                         validation_messages=snake_messages(messages))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg="Could not write dashboard %s" % name)
    return result.get("DashboardValidationMessages") or []


def ensure_present(module, client, name, body):
    current = get_dashboard(module, client, name)
    before = current["body"] if current else None
    result = {"changed": before != body, "dashboard": dict(current or {"name": name}, body=body)}
    if module._diff:
        result["diff"] = {"before": pretty(before), "after": pretty(body),
                          "before_header": "dashboard %s (%s)" % (name, "current" if current else "absent"),
                          "after_header": "dashboard %s (desired)" % name}
    if not result["changed"] or module.check_mode:
        module.exit_json(**result)
    messages = put_dashboard(module, client, name, body)
    written = get_dashboard(module, client, name)
    result["validation_messages"] = snake_messages(messages)
    if messages and (written is None or written["body"] != body):
        # Messages that came with a body CloudWatch did not store are errors, not warnings.
        result["changed"] = False
        module.fail_json(msg="PutDashboard did not store the body of dashboard %s (%s)"
                         % (name, "; ".join(format_validation_messages(messages))), **result)
    for line in format_validation_messages(messages):
        module.warn("dashboard %s: %s" % (name, line))
    result["dashboard"] = written or result["dashboard"]
    module.exit_json(**result)


def ensure_absent(module, client, name):
    current = get_dashboard(module, client, name)
    if current is None:
        module.exit_json(changed=False, dashboard={})
    result = {"changed": True, "dashboard": {}}
    if module._diff:
        result["diff"] = {"before": pretty(current["body"]), "after": "",
                          "before_header": "dashboard %s (current)" % name,
                          "after_header": "dashboard %s (deleted)" % name}
    if not module.check_mode:
        try:
            client.delete_dashboards(DashboardNames=[name], aws_retry=True)
        except is_boto3_error_code("ResourceNotFound"):
            # Deleted by someone else since it was read: the desired state holds already.
            result["changed"] = False
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg="Could not delete dashboard %s" % name)
    module.exit_json(**result)


def main():
    argument_spec = dict(
        name=dict(type="str", required=True, aliases=["dashboard_name"]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        body=dict(type="raw"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ["body"])],
        supports_check_mode=True,
    )
    name = module.params["name"]
    if not NAME_PATTERN.match(name):
        module.fail_json(msg="name %r is not a valid dashboard name: use 1 to 255 letters, digits, '-' or '_'" % name)

    body = None
    if module.params["state"] == "present":
        # Checked before any API call, so check mode and a bad body fail the same way.
        try:
            body = parse_body(module.params["body"])
        except BodyError as e:
            module.fail_json(msg="dashboard %s: %s" % (name, e))

    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    if body is None:
        ensure_absent(module, client, name)
    ensure_present(module, client, name, body)


if __name__ == "__main__":
    main()
