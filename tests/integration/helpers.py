"""Running the playbooks and asking Slurm and the emulator what is really there."""

import json
import os
import re
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
SLURM_ENV = {"SLURM_CONF": "/opt/slurm/etc/slurm.conf"}
EMULATOR = "http://127.0.0.1:5000"
STATE_DIR = os.path.join(ROOT, "inventories", "local", ".state")
EMULATOR_CREDENTIALS = os.path.join(STATE_DIR, "local_cloud-5000.credentials")
# The lifecycle tests' cluster is the recipe's with a one-minute idle time (so nodes power down
# within a test); every site.yml run on it must say so, or the change is an update.
IDLE_MINUTES = "1"
KEY_PAIR = os.path.join(STATE_DIR, "hpc-cluster-keypair.pem")
SLURMDBD_CONF = "/opt/slurm/etc/slurmdbd.conf"
MUNGE_KEY = "/etc/munge/munge.key"
SITE_ARGS = ("-e", "hpc_scaledown_idletime=" + IDLE_MINUTES)


def emulator_credentials():
    """The deployment's key pair, which the emulator requires: (access key id, secret) from the file
    the local_cloud role generates (root's, 0600)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    with open(EMULATOR_CREDENTIALS) as handle:
        parser.read_file(handle)
    return parser.get("default", "aws_access_key_id"), parser.get("default", "aws_secret_access_key")


def emulator_clients(*services):
    """boto3 clients of the local AWS API emulator, to check what really exists there."""
    import boto3

    key, secret = emulator_credentials()
    kwargs = dict(endpoint_url=EMULATOR, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
    return [boto3.client(service, **kwargs) for service in services]


def start_emulator():
    """Start the local AWS API emulator alone (the local_cloud role), as an empty cloud."""
    cmd = [os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "ansible.builtin.include_role",
           "-a", "name=hpc.parallelcluster.local_cloud"]
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise AssertionError("could not start the emulator:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))


def ansible_env(**extra):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra)
    return env


def playbook(name, *args, json_output=True, timeout=1800):
    """Run playbooks/<name> (or a path) and return (returncode, json-callback result or raw output)."""
    path = name if os.path.isabs(name) else os.path.join(ROOT, "playbooks", name)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), path, *args]
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json") if json_output else ansible_env()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if not json_output:
        return proc.returncode, proc.stdout + proc.stderr
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        raise AssertionError("no JSON from ansible-playbook:\n%s\n%s" % (proc.stdout[-5000:], proc.stderr[-5000:]))
    return proc.returncode, data


def cluster_secrets():
    """What must never be printed, as it is on disk now: the accounting database password, the
    private key's body lines and the munge key (base64 and hex)."""
    import base64

    with open(KEY_PAIR) as handle:
        key_lines = [line.strip() for line in handle if line.strip() and not line.startswith("-----")]
    with open(MUNGE_KEY, "rb") as handle:
        munge = handle.read()
    with open(SLURMDBD_CONF) as handle:
        password = [line.split("=", 1)[1].strip() for line in handle if line.startswith("StoragePass=")][0]
    secrets = {"db password": password, "munge key (base64)": base64.b64encode(munge).decode()[:40],
               "munge key (hex)": munge.hex()[:40]}
    secrets.update(("private key line %d" % i, line) for i, line in enumerate(key_lines[1:-1][:5]))
    assert len(secrets["db password"]) >= 20 and len(key_lines) > 3
    return secrets


def task_results(data, task_name):
    """Per-host results of the task called ``task_name`` (in a role: ``<role> : <task_name>``)."""
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            name = task["task"]["name"]
            if name == task_name or name.endswith(" : " + task_name):
                return task["hosts"]
    raise AssertionError("task %r did not run" % task_name)


def failed_tasks(data):
    """Names and messages of the failed tasks in a json-callback result, for assertion messages
    (a loop's failed items included: "One or more items failed" alone says nothing)."""
    out = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                if res.get("failed") and not res.get("ignore_errors"):
                    items = [str(item.get("msg", item)) for item in res.get("results", []) if item.get("failed")]
                    out.append("%s on %s: %s" % (task["task"]["name"], host, " | ".join([str(res.get("msg", res))] + items)))
    return out


def changed_tasks(data):
    out = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                if res.get("changed"):
                    out.append("%s on %s" % (task["task"]["name"], host))
    return out


def home_of(user):
    """Where ``user`` works from: a checkout in a private folder is no place its jobs can chdir to."""
    import pwd

    home = pwd.getpwnam(user).pw_dir
    return home if os.path.isdir(home) else "/"


def run(args, user=None, check=True, timeout=300, env=None):
    """``args`` as root (or ``user``) with the cluster's SLURM_CONF and ``env`` added to the environment."""
    cwd = None
    if user:
        args = ["runuser", "-u", user, "--", *args]
        cwd = home_of(user)
    env = dict(os.environ, **(env or {}))
    env.update(SLURM_ENV)
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%s): %s %s" % (args, proc.returncode, proc.stdout, proc.stderr))
    return proc


def sinfo_nodes():
    """{node: state} from Slurm, with power-saving suffixes kept (``idle~`` is powered down)."""
    out = run(["sinfo", "--noheader", "--Node", "--format=%N|%t|%P"]).stdout
    nodes = {}
    for line in out.splitlines():
        name, state, partition = line.split("|")
        nodes[name] = (state, partition.rstrip("*"))
    return nodes


def sacct_jobs(name=None):
    args = ["sacct", "--noheader", "--parsable2", "--allocations", "--starttime", "2000-01-01",
            "--format=JobID,JobName,State,NNodes,NodeList,ExitCode,User,Partition"]
    if name:
        args += ["--name", name]
    rows = []
    for line in run(args).stdout.splitlines():
        job_id, job_name, state, nnodes, nodelist, exit_code, user, partition = line.split("|")
        rows.append({"id": job_id, "name": job_name, "state": state, "nnodes": int(nnodes), "nodes": nodelist,
                     "exit": exit_code, "user": user, "partition": partition})
    return rows


def job_field(job, field):
    """One squeue field of a job (``T`` its state, ``N`` its nodes); empty once Slurm has forgotten it."""
    return run(["squeue", "--noheader", "--jobs", str(job), "--format=%" + field], check=False).stdout.strip()


def node_state(node):
    """A node's state as scontrol gives it, flags joined by ``+`` (``IDLE+CLOUD+POWERED_DOWN``)."""
    out = run(["scontrol", "--oneliner", "show", "node", node]).stdout
    return [word.split("=", 1)[1] for word in out.split() if word.startswith("State=")][0]


def release_requeued(job, node=None):
    """Start a requeued batch job again at once, as an operator does with a new start time.

    Slurm holds a requeued job for its credential lifetime once the first run has ended; a new start
    time, taken once the job is PENDING (while it is COMPLETING it is refused), releases it. The hold
    exists because the node's slurmd revokes the job's credential when the first run ends, to the
    second: a new run launched there within that second is refused and the job FAILS. So when the
    first run's ``node`` is still alive, the release waits until it has finished with that run and a
    whole second has passed. A node whose instance is gone has no run to finish: pass no node.
    """
    wait_until(lambda: job_field(job, "T") == "PENDING", 60, interval=0.5, what="the requeue of %s" % job)
    if node:
        wait_until(lambda: "COMPLETING" not in node_state(node), 60, interval=0.5,
                   what="%s to finish the first run of %s" % (node, job))
        time.sleep(2)
    run(["scontrol", "update", "JobId=%s" % job, "StartTime=now"], check=False)


def wait_until(predicate, timeout, interval=2.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def processes(pattern_names=("slurmctld", "slurmdbd", "slurmd", "mariadbd", "munged", "moto_server")):
    """Live (non-zombie) processes of this machine's PID namespace whose command name is one of
    ``pattern_names``. Processes inside node instances (PID namespaces of their own: another
    cluster's, or an instance a test boots) are not this cluster's daemons."""
    found = []
    own = os.readlink("/proc/self/ns/pid")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/ns/pid" % pid) != own:
                continue
            with open("/proc/%s/stat" % pid) as handle:
                stat = handle.read()
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        if state == "Z":
            continue
        if comm in pattern_names or any(("/%s " % n) in cmdline + " " for n in pattern_names):
            found.append("%s %s" % (pid, cmdline.strip()))
    return found


# Job states of a job that has not ended (sacct's words).
LIVE_STATES = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED")


def node_namespaces():
    """Network namespaces named as ParallelCluster names nodes (<queue>-st|dy-<resource>-<n>): a
    cluster's compute nodes; other namespaces on this machine are not the cluster's."""
    names = [line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()]
    return [name for name in names if re.fullmatch(r"[a-z0-9-]+-(st|dy)-[a-z0-9-]+-[0-9]+", name)]


def settled_rows(job_ids, timeout=60):
    """sacct_by_ids once every given job (or each task of an array) has its final state there:
    slurmdbd records a job's end a moment after slurmctld, so after `sbatch --wait` or slurm_job.
    Until the job's own record arrives, sacct may show an end state under the name "allocation"."""
    wanted = [str(j) for j in job_ids]

    def settled():
        rows = sacct_by_ids(wanted)
        for job in wanted:
            mine = [row for key, row in rows.items() if key == job or key.startswith(job + "_")]
            if not mine or any(row["state"].split()[0] in LIVE_STATES or row["name"] == "allocation" for row in mine):
                return None
        return rows

    return wait_until(settled, timeout, what="accounting to record the end of jobs %s" % ",".join(wanted))


def accounted_state(job_id, timeout=60):
    """The final state accounting gives one job (COMPLETED, FAILED, CANCELLED by ...)."""
    return settled_rows([job_id], timeout)[str(job_id)]["state"]


def sacct_by_ids(job_ids):
    """{job id: sacct allocation row} for the given jobs (any user), array tasks as '<id>_<task>'."""
    args = ["sacct", "--noheader", "--parsable2", "--allocations", "--allusers", "--starttime", "2000-01-01",
            "--jobs", ",".join(str(j) for j in job_ids), "--format=JobID,JobName,State,ExitCode,User,Comment"]
    rows = {}
    for line in run(args).stdout.splitlines():
        job_id, job_name, state, exit_code, user, comment = line.split("|", 5)
        rows[job_id] = {"name": job_name, "state": state, "exit": exit_code, "user": user, "comment": comment}
    return rows
