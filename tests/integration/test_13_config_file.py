"""A cluster config brought as a plain ParallelCluster YAML file is read as it is: the pcluster role
templates only files named *.j2, so Jinja in a plain file (a Tags value, say) is a string to
ParallelCluster, never code run on the controller."""

import json
import os
import uuid

import pytest
import yaml

from helpers import SITE_ARGS, failed_tasks, playbook, task_results

pytestmark = pytest.mark.integration

RECORD = "/var/lib/hpc-parallelcluster/clusters/hpc-cluster.json"


def test_a_plain_config_file_is_not_templated(cluster, tmp_path):
    with open(RECORD) as handle:
        config = json.load(handle)["clusterConfiguration"]
    marker = "/tmp/hpc-injected-%s" % uuid.uuid4().hex[:8]
    payload = "{{ lookup('ansible.builtin.pipe', 'touch %s') }}" % marker
    config["Tags"] = [{"Key": "note", "Value": payload}]
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    rc, data = playbook("site.yml", *SITE_ARGS, "--check", "--diff", "--tags", "cluster",
                        "-e", "pcluster_config_file=%s" % path)
    assert not os.path.exists(marker)
    assert rc == 0, failed_tasks(data)
    result = task_results(data, "Create or update cluster hpc-cluster")["localhost"]
    sent = result["invocation"]["module_args"]["config"]
    # The plain file's text reached the module unchanged, Jinja and all.
    assert sent["Tags"] == [{"Key": "note", "Value": payload}], sent.get("Tags")
    assert sent["HeadNode"] == config["HeadNode"]
