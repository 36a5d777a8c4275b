"""hpc.parallelcluster.cloudwatch_dashboard run as Ansible runs it (module args in, JSON out) against
a real CloudWatch API emulator (moto server over HTTP)."""

import json

import boto3
import botocore
import pytest
from ansible.module_utils.testing import patch_module_args
from moto.server import ThreadedMotoServer

from ansible_collections.hpc.parallelcluster.plugins.modules import cloudwatch_dashboard

REGION = "us-east-1"

RECIPE_BODY = {
    "widgets": [
        {
            "type": "metric",
            "properties": {
                "metrics": [
                    ["AWS/EC2", "CPUUtilization", "ClusterName", "hpc-cluster"],
                    ["AWS/EC2", "NetworkIn", "ClusterName", "hpc-cluster"],
                    ["AWS/EC2", "NetworkOut", "ClusterName", "hpc-cluster"],
                ],
                "period": 300,
                "stat": "Average",
                "region": REGION,
                "title": "HPC Cluster Metrics",
            },
        }
    ]
}


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield "http://%s:%d" % (host, port)
    finally:
        server.stop()


@pytest.fixture
def cloudwatch(endpoint):
    """A client on the emulator; every test starts and ends without dashboards."""
    client = boto3.client("cloudwatch", region_name=REGION, endpoint_url=endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")

    def clear():
        names = [d["DashboardName"] for d in client.list_dashboards()["DashboardEntries"]]
        if names:
            client.delete_dashboards(DashboardNames=names)

    clear()
    yield client
    clear()


@pytest.fixture
def run(endpoint, capsys):
    """Run the module with these args (plus the emulator connection); returns (rc, result)."""

    def _run(check_mode=False, diff=False, **args):
        args.update(endpoint_url=endpoint, region=REGION, access_key="testing", secret_key="testing",
                    _ansible_check_mode=check_mode, _ansible_diff=diff)
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exited:
                cloudwatch_dashboard.main()
        return exited.value.code, json.loads(capsys.readouterr().out)

    return _run


def warning_text(warning):
    """A warning as text: a plain string, or the structured form (WarningSummary) that module_utils
    emits when the controller's serialization profile is not loaded (ansible-test units)."""
    return warning if isinstance(warning, str) else warning["event"]["msg"]


def stored_body(client, name):
    return json.loads(client.get_dashboard(DashboardName=name)["DashboardBody"])


def test_create(run, cloudwatch):
    rc, result = run(name="hpc-cluster-performance", body=RECIPE_BODY)
    assert rc == 0 and result["changed"]
    assert result["dashboard"]["name"] == "hpc-cluster-performance"
    assert result["dashboard"]["arn"].endswith(":dashboard/hpc-cluster-performance")
    assert result["dashboard"]["body"] == RECIPE_BODY
    assert result["validation_messages"] == []
    assert stored_body(cloudwatch, "hpc-cluster-performance") == RECIPE_BODY


def test_rerun_is_unchanged_whatever_the_formatting(run, cloudwatch):
    run(name="perf", body=RECIPE_BODY)
    rc, result = run(name="perf", body=RECIPE_BODY)
    assert rc == 0 and not result["changed"]
    # The same data as a JSON string with other key order and whitespace is no change either.
    reordered = json.dumps({"widgets": [{"properties": dict(reversed(list(RECIPE_BODY["widgets"][0]["properties"].items()))),
                                         "type": "metric"}]}, indent=7)
    rc, result = run(name="perf", body=reordered, diff=True)
    assert rc == 0 and not result["changed"]
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["dashboard"]["body"] == RECIPE_BODY


def test_existing_body_written_by_someone_else_formatted_differently(run, cloudwatch):
    cloudwatch.put_dashboard(DashboardName="perf", DashboardBody=json.dumps(RECIPE_BODY, indent=4, sort_keys=True))
    rc, result = run(name="perf", body=RECIPE_BODY)
    assert rc == 0 and not result["changed"]


def test_body_change_with_diff(run, cloudwatch):
    run(name="perf", body=RECIPE_BODY)
    new = json.loads(json.dumps(RECIPE_BODY))
    new["widgets"][0]["properties"]["period"] = 60
    rc, result = run(name="perf", body=new, diff=True)
    assert rc == 0 and result["changed"]
    assert '"period": 300' in result["diff"]["before"]
    assert '"period": 60' in result["diff"]["after"]
    # Pretty JSON with sorted keys, so the diff shows only what changed.
    assert result["diff"]["after"] == json.dumps(new, indent=2, sort_keys=True) + "\n"
    assert stored_body(cloudwatch, "perf") == new


def test_check_mode_creates_nothing(run, cloudwatch):
    rc, result = run(name="perf", body=RECIPE_BODY, check_mode=True, diff=True)
    assert rc == 0 and result["changed"]
    assert result["diff"]["before"] == ""
    assert json.loads(result["diff"]["after"]) == RECIPE_BODY
    assert result["dashboard"] == {"name": "perf", "body": RECIPE_BODY}
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []


def test_check_mode_change_writes_nothing(run, cloudwatch):
    run(name="perf", body=RECIPE_BODY)
    rc, result = run(name="perf", body={"widgets": []}, check_mode=True)
    assert rc == 0 and result["changed"]
    assert stored_body(cloudwatch, "perf") == RECIPE_BODY


def test_absent(run, cloudwatch):
    run(name="perf", body=RECIPE_BODY)
    run(name="other", body={"widgets": []})
    rc, result = run(name="perf", state="absent", diff=True)
    assert rc == 0 and result["changed"]
    assert result["dashboard"] == {}
    assert json.loads(result["diff"]["before"]) == RECIPE_BODY and result["diff"]["after"] == ""
    # Only the named dashboard is gone.
    assert [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]] == ["other"]


def test_absent_check_mode_deletes_nothing(run, cloudwatch):
    run(name="perf", body=RECIPE_BODY)
    rc, result = run(name="perf", state="absent", check_mode=True)
    assert rc == 0 and result["changed"]
    assert stored_body(cloudwatch, "perf") == RECIPE_BODY


def test_absent_when_missing(run, cloudwatch):
    rc, result = run(name="perf", state="absent")
    assert rc == 0 and not result["changed"]
    assert result["dashboard"] == {}


@pytest.mark.parametrize("body, message", [
    ("{not json", "body is not valid JSON"),
    ("[1, 2]", "body must be a JSON object, got list"),
    ({"widget": []}, "body must have a 'widgets' list"),
    ({"widgets": "cpu"}, "body must have a 'widgets' list"),
])
def test_invalid_body(run, cloudwatch, body, message):
    rc, result = run(name="perf", body=body)
    assert rc == 1 and result["failed"]
    assert result["msg"].startswith("dashboard perf: " + message)
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []


def test_invalid_body_fails_in_check_mode_too(run, cloudwatch):
    rc, result = run(name="perf", body="{not json", check_mode=True)
    assert rc == 1 and "body is not valid JSON" in result["msg"]


def test_body_required_when_present(run, cloudwatch):
    rc, result = run(name="perf")
    assert rc == 1 and "body" in result["msg"]


def test_invalid_name(run, cloudwatch):
    rc, result = run(name="hpc cluster/perf", body=RECIPE_BODY)
    assert rc == 1 and "not a valid dashboard name" in result["msg"]


def test_rejection_message_from_the_emulator(cloudwatch):
    """The emulator rejects a body that is not JSON; the message names the dashboard and the reason."""
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        cloudwatch.put_dashboard(DashboardName="perf", DashboardBody="{not json")
    assert cloudwatch_dashboard.rejection_message("perf", raised.value) == (
        "PutDashboard rejected the body of dashboard perf: Body is invalid JSON")


# CloudWatch answers the emulator never gives: validation messages with an accepted or a rejected
# body. They are put into the answers of the module's own client through botocore's events.
MESSAGES = [{"DataPath": "/widgets/0/properties", "Message": "Should have required property 'region'"}]


class _Accepted(object):
    status_code = 200
    headers = {}


class _Rejected(object):
    status_code = 400
    headers = {}


@pytest.fixture
def cloudwatch_events(monkeypatch):
    """Handlers to register on the module's own CloudWatch client, by botocore event name."""
    handlers = {}
    real_client = cloudwatch_dashboard.AnsibleAWSModule.client

    def client(self, service, *args, **kwargs):
        conn = real_client(self, service, *args, **kwargs)
        for event, handler in handlers.items():
            conn.meta.events.register(event, handler)
        return conn

    monkeypatch.setattr(cloudwatch_dashboard.AnsibleAWSModule, "client", client)
    return handlers


def test_put_warnings_are_reported(run, cloudwatch, cloudwatch_events):
    def add_warnings(parsed, **kwargs):
        parsed["DashboardValidationMessages"] = MESSAGES

    cloudwatch_events["after-call.cloudwatch.PutDashboard"] = add_warnings
    rc, result = run(name="perf", body=RECIPE_BODY)
    assert rc == 0 and result["changed"]
    assert result["validation_messages"] == [
        {"data_path": "/widgets/0/properties", "message": "Should have required property 'region'"}]
    assert [warning_text(w) for w in result["warnings"]] == [
        "dashboard perf: /widgets/0/properties: Should have required property 'region'"]
    assert stored_body(cloudwatch, "perf") == RECIPE_BODY


def test_put_messages_without_stored_body_fail(run, cloudwatch, cloudwatch_events):
    """A PutDashboard answer with messages that did not store the body is an error."""
    cloudwatch_events["before-call.cloudwatch.PutDashboard"] = (
        lambda **kwargs: (_Accepted(), {"DashboardValidationMessages": MESSAGES}))
    rc, result = run(name="perf", body=RECIPE_BODY)
    assert rc == 1 and not result["changed"]
    assert result["msg"] == ("PutDashboard did not store the body of dashboard perf "
                             "(/widgets/0/properties: Should have required property 'region')")
    assert result["validation_messages"][0]["data_path"] == "/widgets/0/properties"
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []


def test_rejected_body_fails_with_validation_messages(run, cloudwatch, cloudwatch_events):
    """CloudWatch's own rejections carry dashboardValidationMessages; each appears with its path."""
    rejection = {
        "Error": {"Code": "InvalidParameterInput", "Message": "The field DashboardBody must be a valid JSON object"},
        "dashboardValidationMessages": [
            {"DataPath": "/widgets/0/properties/metrics", "Message": "Should NOT have more than 500 items"},
            {"DataPath": "/widgets/0", "Message": "Should have required property 'type'"},
        ],
    }
    cloudwatch_events["before-call.cloudwatch.PutDashboard"] = lambda **kwargs: (_Rejected(), rejection)
    rc, result = run(name="perf", body=RECIPE_BODY)
    assert rc == 1 and not result.get("changed")
    assert result["msg"] == (
        "PutDashboard rejected the body of dashboard perf: The field DashboardBody must be a valid JSON object "
        "(/widgets/0/properties/metrics: Should NOT have more than 500 items; "
        "/widgets/0: Should have required property 'type')")
    assert [m["data_path"] for m in result["validation_messages"]] == ["/widgets/0/properties/metrics", "/widgets/0"]
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []
