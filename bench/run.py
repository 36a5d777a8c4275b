"""Figures users choose a deployment tool by, measured on the local provider of this machine.

Prints a table and writes bench/results.json. Nothing here asserts a time: the figures are
recorded (bench/README.md), not tested. Run through `make bench`; it replaces the local cluster
(there is one per machine) with one of 22 dynamic nodes, so that ten scale-up runs each start
two nodes that never ran, and tears it down at the end.

.venv/bin/python bench/run.py [--only NAME ...] [--runs N] [--keep]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), SLURM_CONF="/opt/slurm/etc/slurm.conf",
           PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1")
USER = "ec2-user"
# 22 nodes: the smoke test takes two, ten 2-node scale-up runs take the other twenty fresh ones.
SITE_VARS = ["-e", "hpc_compute_max_count=22", "-e", "hpc_scaledown_idletime=1"]


def sh(args, user=None, check=True, timeout=1800, **kwargs):
    if user:
        args = ["runuser", "-u", user, "--", *args]
    proc = subprocess.run(args, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise SystemExit("%s failed (%s):\n%s\n%s" % (" ".join(args), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def timed(args, **kwargs):
    start = time.monotonic()
    sh(args, **kwargs)
    return time.monotonic() - start


def playbook(name, *args):
    return [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", name), *args]


def node_states():
    out = sh(["sinfo", "--noheader", "--Node", "--format=%N|%t"]).stdout
    return dict(line.split("|") for line in out.splitlines() if "|" in line)


def job_state(job_id):
    return sh(["squeue", "--noheader", "--jobs", job_id, "--format=%T"], check=False).stdout.strip()


def bench_site(results):
    sh(playbook("teardown.yml"))
    results["time_to_first_job_s"] = round(timed(playbook("site.yml", *SITE_VARS)), 1)
    results["idempotent_rerun_s"] = round(timed(playbook("site.yml", *SITE_VARS)), 1)


def bench_scale_up(results, runs):
    """Submit of a 2-node batch job on powered-down nodes to RUNNING, each run on two fresh nodes."""
    states = node_states()
    fresh = sorted((n for n, s in states.items() if s.endswith("~")), key=lambda n: int(n.rsplit("-", 1)[1]))
    latencies = []
    for index in range(min(runs, len(fresh) // 2)):
        nodes = ",".join(fresh[2 * index:2 * index + 2])
        start = time.monotonic()
        job = sh(["sbatch", "--parsable", "--nodes=2", "--nodelist=" + nodes, "--output=/dev/null", "--wrap", "true"],
                 user=USER).stdout.strip()
        while job_state(job) not in ("RUNNING", "COMPLETING", ""):
            time.sleep(0.1)
        latencies.append(round(time.monotonic() - start, 2))
    results["scale_up_runs"] = latencies
    if latencies:
        results["scale_up_median_s"] = round(statistics.median(latencies), 2)
        results["scale_up_max_s"] = max(latencies)


def bench_scale_down(results):
    """A node left idle: from its job's end to powered down, against the configured idle time."""
    suspend = [line for line in sh(["scontrol", "show", "config"]).stdout.splitlines() if line.startswith("SuspendTime ")]
    results["configured_idle_s"] = int(suspend[0].split("=")[1].split()[0])
    job = sh(["sbatch", "--parsable", "--wait", "--nodes=1", "--output=/dev/null", "--wrap", "true"],
             user=USER, timeout=600).stdout.strip()
    ended = time.monotonic()
    node = sh(["sacct", "--noheader", "--parsable2", "--allocations", "--jobs", job, "--format=NodeList"]).stdout.strip()
    while not node_states().get(node, "~").endswith("~"):
        time.sleep(1)
    results["scale_down_s"] = round(time.monotonic() - ended, 1)


def _raw_submit_and_wait():
    job = sh(["sbatch", "--parsable", "--nodes=1", "--output=/dev/null", "--wrap", "true"], user=USER).stdout.strip()
    delay = 0.2
    while job_state(job) not in ("",):
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    return job


def bench_slurm_job(results, runs=5):
    """slurm_job (submit and wait) against raw sbatch plus polling, on a warm node; a 1000-task array."""
    _raw_submit_and_wait()  # warm a node up
    raw = [timed_call(_raw_submit_and_wait) for _run in range(runs)]
    play = os.path.join(ROOT, "bench", "slurm_job_overhead.yml")
    module = []
    for _run in range(runs):
        proc_start = time.monotonic()
        sh([os.path.join(VENV_BIN, "ansible-playbook"), play])
        module.append(time.monotonic() - proc_start)
    results["raw_sbatch_poll_s"] = round(statistics.median(raw), 2)
    results["slurm_job_playbook_s"] = round(statistics.median(module), 2)
    results["slurm_job_ratio"] = round(statistics.median(module) / statistics.median(raw), 2)
    start = time.monotonic()
    sh([os.path.join(VENV_BIN, "ansible-playbook"), play, "-e", "array=1-1000"], timeout=1800)
    elapsed = time.monotonic() - start
    results["array_1000_s"] = round(elapsed, 1)
    results["array_jobs_per_s"] = round(1000 / elapsed, 1)


def timed_call(func):
    start = time.monotonic()
    func()
    return time.monotonic() - start


def bench_inventory(results, clusters=200):
    """The inventory plugin over 200 cluster records: a cold listing and one from its cache."""
    with open("/var/lib/hpc-parallelcluster/clusters/hpc-cluster.json") as handle:
        record = json.load(handle)
    with tempfile.TemporaryDirectory() as tmp:
        records = os.path.join(tmp, "records")
        os.makedirs(records)
        for index in range(clusters):
            record["clusterName"] = "bench-%03d" % index
            with open(os.path.join(records, record["clusterName"] + ".json"), "w") as handle:
                json.dump(record, handle)
        source = os.path.join(tmp, "bench.pcluster.yml")
        with open(source, "w") as handle:
            handle.write("plugin: hpc.parallelcluster.pcluster\nprovider: local\nstate_dir: %s\ncache: true\n"
                         "cache_plugin: ansible.builtin.jsonfile\ncache_connection: %s/cache\n" % (records, tmp))
        listing = [os.path.join(VENV_BIN, "ansible-inventory"), "-i", source, "--list"]
        cold = timed(listing)
        cached = timed(listing)
        hosts = json.loads(sh(listing).stdout)["head_nodes"]["hosts"]
        results["inventory_clusters"] = len(hosts)
        results["inventory_cold_s"] = round(cold, 2)
        results["inventory_cached_s"] = round(cached, 2)


BENCHES = ("site", "scale_up", "scale_down", "slurm_job", "inventory")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=BENCHES, default=list(BENCHES))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="leave the cluster up afterwards")
    options = parser.parse_args()
    results = {}
    if "site" in options.only or sh(["scontrol", "ping"], check=False).returncode != 0:
        bench_site(results)
    if "scale_up" in options.only:
        bench_scale_up(results, options.runs)
    if "scale_down" in options.only:
        bench_scale_down(results)
    if "slurm_job" in options.only:
        bench_slurm_job(results)
    if "inventory" in options.only:
        bench_inventory(results)
    if not options.keep:
        sh(playbook("teardown.yml"))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print("%-*s  %s" % (width, key, value))
    with open(os.path.join(ROOT, "bench", "results.json"), "w") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
