"""The inventory plugin's aws mode against amazon.aws.aws_ec2, over the same EC2 data.

A moto server on a free loopback port holds 200 running head nodes tagged as ParallelCluster tags
them. Both plugins list them with `ansible-inventory --list` (one DescribeInstances each); the
floor is `ansible-inventory` itself on an empty inventory. Each figure is the median of a few runs,
alternated so that both see the same machine load.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}

OURS = """plugin: hpc.parallelcluster.pcluster
provider: aws
regions: [%(region)s]
endpoint_url: %(endpoint)s
host_address: private-ip-address
cache: %(cache)s
cache_plugin: ansible.builtin.jsonfile
cache_connection: %(cache_dir)s
"""

THEIRS = """plugin: amazon.aws.aws_ec2
regions: [%(region)s]
endpoint_url: %(endpoint)s
filters:
  tag:parallelcluster:node-type: HeadNode
  instance-state-name: running
hostnames: [private-ip-address]
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_emulator(port):
    proc = subprocess.Popen([os.path.join(VENV_BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto_server did not listen on 127.0.0.1:%d" % port)


def _seed(endpoint, clusters):
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="bench",
                       aws_secret_access_key="bench")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    for index in range(clusters):
        name = "bench-%03d" % index
        tags = [{"Key": "parallelcluster:cluster-name", "Value": name},
                {"Key": "parallelcluster:node-type", "Value": "HeadNode"},
                {"Key": "parallelcluster:version", "Value": "3.15.1"},
                {"Key": "parallelcluster:attributes", "Value": "alinux2, slurm, 3.15.1, x86_64"},
                {"Key": "Name", "Value": "HeadNode"}]
        ec2.run_instances(ImageId=image, InstanceType="c5.large", MinCount=1, MaxCount=1,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])


def _listing(source, env):
    start = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", source, "--list"], env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit("ansible-inventory -i %s failed:\n%s" % (source, proc.stderr[-3000:]))
    return elapsed, proc.stdout


def measure(clusters=200, runs=3):
    port = _free_port()
    endpoint = "http://127.0.0.1:%d" % port
    emulator = _start_emulator(port)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), **CREDENTIALS,
               ANSIBLE_INVENTORY_ENABLED="hpc.parallelcluster.pcluster,amazon.aws.aws_ec2,ansible.builtin.yaml")
    try:
        _seed(endpoint, clusters)
        with tempfile.TemporaryDirectory() as tmp:
            values = {"region": REGION, "endpoint": endpoint, "cache_dir": os.path.join(tmp, "cache")}
            sources = {}
            for key, text, filename in (("ours", OURS % dict(values, cache="false"), "cold.pcluster.yml"),
                                        ("cached", OURS % dict(values, cache="true"), "cached.pcluster.yml"),
                                        ("theirs", THEIRS % values, "bench.aws_ec2.yml"),
                                        ("floor", "{}\n", "empty.yml")):
                sources[key] = os.path.join(tmp, filename)
                with open(sources[key], "w") as handle:
                    handle.write(text)
            _elapsed, listed = _listing(sources["cached"], env)  # fills the cache
            _elapsed, theirs_listed = _listing(sources["theirs"], env)
            times = {key: [] for key in sources}
            for _run in range(runs):
                for key in ("ours", "theirs", "cached", "floor"):
                    times[key].append(_listing(sources[key], env)[0])
            found = len(json.loads(listed)["head_nodes"]["hosts"])
            found_theirs = len(json.loads(theirs_listed)["_meta"]["hostvars"])
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    ours, theirs = statistics.median(times["ours"]), statistics.median(times["theirs"])
    return {"inventory_aws_clusters": found,
            "inventory_aws_ec2_hosts": found_theirs,
            "inventory_aws_cold_s": round(ours, 2),
            "inventory_aws_ec2_s": round(theirs, 2),
            "inventory_aws_vs_aws_ec2": round(ours / theirs, 2),
            "inventory_aws_cached_s": round(statistics.median(times["cached"]), 2),
            "inventory_floor_s": round(statistics.median(times["floor"]), 2),
            # What the plugin itself costs when it answers from its cache: the listing above the floor.
            "inventory_aws_cached_plugin_s": round(statistics.median(times["cached"]) - statistics.median(times["floor"]), 2)}


if __name__ == "__main__":
    for figure, value in measure().items():
        print(figure, value)
    sys.exit(0)
