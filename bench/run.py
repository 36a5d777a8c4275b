"""Figures users choose a deployment tool by, measured on the local provider of this machine.

Prints a table and writes bench/results.json. Nothing here asserts a time: the figures are
recorded (bench/README.md), not tested. Run through `make bench`; it replaces the local cluster
(there is one per machine) with one of 22 dynamic nodes, so that ten scale-up runs each start
two nodes that never ran, and tears it down at the end.

.venv/bin/python bench/run.py [--only NAME ...] [--runs N] [--keep]   (aws_polling and inventory_aws need no cluster)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import aws_polling
import collection_code
import inventory_aws

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), SLURM_CONF="/opt/slurm/etc/slurm.conf",
           PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1")
USER = "ec2-user"
# 22 nodes: the smoke test takes two, ten 2-node scale-up runs take the other twenty fresh ones.
SITE_VARS = ["-e", "hpc_compute_max_count=22", "-e", "hpc_scaledown_idletime=1"]


def sh(args, user=None, check=True, timeout=1800, env=None, **kwargs):
    if user:
        args = ["runuser", "-u", user, "--", *args]
    proc = subprocess.run(args, env=env or ENV, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
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


BATCH_SCHED_DELAY_S = 3.5


def bench_scale_up(results, runs):
    """Submit of a 2-node batch job on powered-down nodes to RUNNING, each run on two fresh nodes.

    Each run starts BATCH_SCHED_DELAY_S after the last: Slurm schedules a batch job at its submission
    only that long after its last scheduling pass (SchedulerParameters batch_sched_delay, 3 s by
    default, as on ParallelCluster), so back-to-back runs measured that batching, not scale-up."""
    states = node_states()
    fresh = sorted((n for n, s in states.items() if s.endswith("~")), key=lambda n: int(n.rsplit("-", 1)[1]))
    latencies = []
    for index in range(min(runs, len(fresh) // 2)):
        nodes = ",".join(fresh[2 * index:2 * index + 2])
        time.sleep(BATCH_SCHED_DELAY_S)
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
    """A node left idle: from its job's end (Slurm's own end time) to powered down, against the
    configured idle time, with the node's state polled every 0.2 s. (The time sbatch --wait returns
    lags the end by up to its own polling interval, which made earlier figures seconds too short.)"""
    config = collection_code.module_utils("slurm_cli").parse_config(sh(["scontrol", "show", "config"]).stdout)
    results["configured_idle_s"] = int(config["SuspendTime"].split()[0])
    results["configured_suspend_timeout_s"] = int(config["SuspendTimeout"].split()[0])
    job = sh(["sbatch", "--parsable", "--nodes=1", "--output=/dev/null", "--wrap", "true"], user=USER).stdout.strip()
    # SLURM_TIME_FORMAT=%s: sacct prints the end as seconds since the epoch, once the job's end has
    # reached accounting ("Unknown" until then).
    end = node = ""
    while not end.isdigit():
        time.sleep(0.2)
        record = sh(["sacct", "--noheader", "--parsable2", "--allocations", "--jobs", job, "--format=End,NodeList"],
                    env=dict(ENV, SLURM_TIME_FORMAT="%s")).stdout.strip()
        end, _sep, node = record.partition("|")
    while not node_states().get(node, "~").endswith("~"):
        time.sleep(0.2)
    results["scale_down_s"] = round(time.time() - int(end), 1)


def _raw_submit_and_wait(*options):
    """A one-node job (or, with --array, an array) through sbatch, polled with backoff until it is gone."""
    job = sh(["sbatch", "--parsable", *options, "--nodes=1", "--output=/dev/null", "--wrap", "true"],
             user=USER).stdout.strip()
    delay = 0.2
    while job_state(job):
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
    # The same array as bench/slurm_job_overhead.yml submits with -e array=1-1000.
    results["raw_array_1000_s"] = round(timed_call(lambda: _raw_submit_and_wait("--array=1-1000")), 1)
    start = time.monotonic()
    sh([os.path.join(VENV_BIN, "ansible-playbook"), play, "-e", "array=1-1000"], timeout=1800)
    elapsed = time.monotonic() - start
    results["array_1000_s"] = round(elapsed, 1)
    results["array_jobs_per_s"] = round(1000 / elapsed, 1)
    # Throughput of slurm_job against raw sbatch: above 1 the module is the faster.
    results["array_vs_raw"] = round(results["raw_array_1000_s"] / elapsed, 2)


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


# The local cluster's own processes: the head node's daemons and the AWS API emulator.
CLUSTER_PROGRAMS = ("slurmctld", "slurmdbd", "slurmrestd", "slurmd", "mariadbd", "munged", "moto_server")


def _cluster_processes():
    """{pid: program} of the local cluster's processes, compute nodes' included (the emulator names
    itself moto_server, its command name)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/comm" % pid) as handle:
                names = [handle.read().strip()]
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                names += [os.path.basename(a.decode(errors="replace")) for a in handle.read().split(b"\0")[:3] if a]
        except OSError:
            continue
        program = next((p for p in CLUSTER_PROGRAMS if p in names), None)
        if program:
            found[pid] = program
    return found


def _memory_kib(pid, field):
    """A field of /proc/<pid>/status (VmRSS) or smaps_rollup (Pss), in KiB; 0 once the process is gone."""
    source = "status" if field.startswith("Vm") else "smaps_rollup"
    try:
        with open("/proc/%s/%s" % (pid, source)) as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def bench_footprint(results):
    """Memory of the whole local cluster at rest: every compute node defined and powered down."""
    deadline = time.monotonic() + 900
    while any(not state.endswith("~") for state in node_states().values()):
        if time.monotonic() > deadline:
            raise SystemExit("the compute nodes did not all power down within 15 minutes: %s" % node_states())
        time.sleep(5)
    processes = _cluster_processes()
    by_program = {}
    for pid, program in processes.items():
        by_program[program] = by_program.get(program, 0) + _memory_kib(pid, "VmRSS")
    results["idle_nodes_defined"] = len(node_states())
    results["idle_rss_mib"] = round(sum(by_program.values()) / 1024, 1)
    results["idle_rss_without_emulator_mib"] = round(
        sum(kib for program, kib in by_program.items() if program != "moto_server") / 1024, 1)
    results["idle_pss_mib"] = round(sum(_memory_kib(pid, "Pss") for pid in processes) / 1024, 1)
    results["idle_rss_by_program_mib"] = {p: round(kib / 1024, 1) for p, kib in sorted(by_program.items())}


def _fresh_clone(tmp):
    """A clone of this checkout's HEAD in a private folder, as a new user makes one."""
    clone = os.path.join(tmp, "checkout")
    sh(["git", "clone", "--quiet", ROOT, clone])
    return clone


def bench_fresh_site(results):
    """A fresh clone to the MPI job done: its set-up (virtualenv, collections) and `make site`.

    The machine's Debian packages are installed already; a fresh machine adds their download."""
    sh(playbook("teardown.yml"))
    with tempfile.TemporaryDirectory() as tmp:
        clone = _fresh_clone(tmp)
        results["fresh_clone_site_s"] = round(timed(["make", "-C", clone, "site"], timeout=3600), 1)
        sh(["make", "-C", clone, "teardown"], timeout=1800)


def bench_suite(results):
    """`make test` from a fresh clone (about an hour on 2 cores): opt-in, --only suite."""
    sh(playbook("teardown.yml"))
    with tempfile.TemporaryDirectory() as tmp:
        clone = _fresh_clone(tmp)
        results["fresh_clone_make_test_s"] = round(timed(["make", "-C", clone, "test"], timeout=3 * 3600), 1)


# Issue targets, with the figure measured before this work (bench/README.md): (figure, target, met, before).
TARGETS = (
    ("time_to_first_job_s", "<= 45 s", lambda r: r["time_to_first_job_s"] <= 45, "93.6 s"),
    ("idempotent_rerun_s", "<= 20 s", lambda r: r["idempotent_rerun_s"] <= 20, "53.9 s"),
    ("scale_up_median_s", "<= 2 s", lambda r: r["scale_up_median_s"] <= 2, "3.01 s"),
    ("scale_up_max_s", "<= 5 s", lambda r: r["scale_up_max_s"] <= 5, "3.04 s"),
    ("scale_down_s", "<= SuspendTime + 5 s", lambda r: r["scale_down_s"] <= r["configured_idle_s"] + 5,
     "121.2 s (SuspendTime 60 s)"),
    ("array_vs_raw", ">= 0.8x raw sbatch", lambda r: r["array_vs_raw"] >= 0.8, "not measured"),
    ("slurm_job_ratio", "<= 1.2x raw sbatch + polling", lambda r: r["slurm_job_ratio"] <= 1.2, "1.09"),
    ("inventory_cached_s", "<= 0.3 s", lambda r: r["inventory_cached_s"] <= 0.3, "1.05 s"),
    ("inventory_aws_cached_plugin_s", "<= 0.3 s", lambda r: r["inventory_aws_cached_plugin_s"] <= 0.3, "not measured"),
    ("inventory_aws_vs_aws_ec2", "<= 1.0x amazon.aws.aws_ec2", lambda r: r["inventory_aws_vs_aws_ec2"] <= 1.0,
     "not measured"),
    ("idle_rss_mib", "<= 256 MiB", lambda r: r["idle_rss_mib"] <= 256, "not measured"),
    ("fresh_clone_site_s", "<= 240 s (fresh machine to first job)", lambda r: r["fresh_clone_site_s"] <= 240,
     "212 s (make site, Debian packages present)"),
    ("fresh_clone_make_test_s", "<= 1500 s", lambda r: r["fresh_clone_make_test_s"] <= 1500, "about 2220 s"),
    ("aws_create_polls", "<= 20 polls over 15 min", lambda r: r["aws_create_polls"] <= 20, "not measured"),
    ("aws_create_longest_gap_s", "<= 60 s", lambda r: r["aws_create_longest_gap_s"] <= 60, "not measured"),
)


def target_rows(results):
    """(figure, value, target, met, before) for each target whose figure this run measured."""
    rows = []
    for key, target, met, before in TARGETS:
        if key in results:
            rows.append((key, results[key], target, "met" if met(results) else "NOT met", before))
    return rows


CLUSTER_BENCHES = ("site", "scale_up", "scale_down", "slurm_job", "inventory", "footprint")
# Figures that need no local cluster.
STANDALONE_BENCHES = ("aws_polling", "inventory_aws")
BENCHES = CLUSTER_BENCHES + STANDALONE_BENCHES
# Each takes a fresh clone through the README's commands; --only names them.
FRESH_CLONE_BENCHES = ("fresh_site", "suite")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=BENCHES + FRESH_CLONE_BENCHES, default=list(BENCHES))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="leave the cluster up afterwards")
    options = parser.parse_args()
    results = {}
    for name in STANDALONE_BENCHES + FRESH_CLONE_BENCHES:
        if name in options.only:
            RUNNERS[name](results, options)
    if set(options.only) & set(CLUSTER_BENCHES):
        # The local cluster's figures: set up when it is not there or when "site" is measured.
        if "site" in options.only or sh(["scontrol", "ping"], check=False).returncode != 0:
            bench_site(results)
        for name in CLUSTER_BENCHES[1:]:
            if name in options.only:
                RUNNERS[name](results, options)
        if not options.keep:
            sh(playbook("teardown.yml"))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print("%-*s  %s" % (width, key, value))
    rows = target_rows(results)
    if rows:
        print("\n%-*s  %-10s  %-30s  %-8s  %s" % (width, "figure", "now", "target", "", "before"))
        for key, value, target, met, before in rows:
            print("%-*s  %-10s  %-30s  %-8s  %s" % (width, key, value, target, met, before))
    with open(os.path.join(ROOT, "bench", "results.json"), "w") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return 0


# Each bench by name, called with (results, options).
RUNNERS = {
    "scale_up": lambda results, options: bench_scale_up(results, options.runs),
    "scale_down": lambda results, _options: bench_scale_down(results),
    "slurm_job": lambda results, _options: bench_slurm_job(results),
    "inventory": lambda results, _options: bench_inventory(results),
    "footprint": lambda results, _options: bench_footprint(results),
    "aws_polling": lambda results, _options: results.update(aws_polling.measure()),
    "inventory_aws": lambda results, _options: results.update(inventory_aws.measure()),
    "fresh_site": lambda results, _options: bench_fresh_site(results),
    "suite": lambda results, _options: bench_suite(results),
}


if __name__ == "__main__":
    sys.exit(main())
