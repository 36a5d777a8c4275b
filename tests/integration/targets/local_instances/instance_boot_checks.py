"""An instance of the default node image (or HPC_NODE_IMAGE_RELEASE's), really booted (root only;
runme.sh runs this file).

The image is built unless cached. A bridge lives in a network namespace made for the run. The
instance is started, described and terminated by the launcher's command line in processes of
their own (as Slurm's programs will), and checked over SSH as the image's OS user with the key
pair. Figures (boot to SSH, terminate, memory) are printed, never asserted."""

import json
import os
import platform
import secrets
import subprocess
import sys
import time

import pytest

from ansible_collections.hpc.parallelcluster.plugins.module_utils import instance_boot as boot
from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_recipe as recipes
from ansible_collections.hpc.parallelcluster.plugins.module_utils.instance_store import InstanceStore
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_build import Builder
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache

CLI = "ansible_collections.hpc.parallelcluster.plugins.module_utils.local_ec2_cli"
COLLECTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", ".collections")
BRIDGE, NETWORK, GATEWAY, ADDRESS = "hpcbr0", "10.231.0.0/24", "10.231.0.1", "10.231.0.11"
# Units that may fail in an instance without a fault of the image (none are known today).
KNOWN_FAILED = set()
FIGURES = {}


def figure(name, value):
    FIGURES[name] = value
    print("\nlocal_instances figure: %s = %s" % (name, value))


def cli(*args, check=True):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(COLLECTIONS))
    done = subprocess.run([sys.executable, "-m", CLI] + list(args), env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def image():
    assert os.geteuid() == 0, "booting instances needs root"
    started = time.monotonic()
    recipe = recipes.make_recipe(os.environ.get("HPC_NODE_IMAGE_RELEASE", recipes.DEFAULT_RELEASE),
                                 machine=platform.machine())
    manifest, built = Builder(ImageCache(), progress=lambda m: print("image:", m, flush=True)).ensure(recipe)
    figure("image %s (built now: %s)" % (manifest["image_id"], built), "%.1f s" % (time.monotonic() - started))
    return manifest


@pytest.fixture(scope="module")
def netns():
    name = "hpcw-boot-" + secrets.token_hex(3)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for argv in (["link", "add", BRIDGE, "type", "bridge"], ["address", "add", GATEWAY + "/24", "dev", BRIDGE],
                     ["link", "set", "dev", BRIDGE, "up"], ["link", "set", "dev", "lo", "up"]):
            subprocess.run(["ip", "-n", name] + argv, check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("key")
    os.chmod(folder, 0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hpcw-boot", "-f", str(folder / "key")],
                   check=True)
    return str(folder / "key")


@pytest.fixture(scope="module")
def instance(image, netns, key):
    started = time.monotonic()
    try:
        done = cli("run-instance", "--image-id", image["image_id"], "--hostname", "node1", "--address",
                   ADDRESS + "/24", "--gateway", GATEWAY, "--bridge", BRIDGE, "--bridge-netns", netns,
                   "--public-key-file", key + ".pub", "--tag", "parallelcluster:node-type=Compute", "--wait", "120")
        record = json.loads(done.stdout)
        record["netns"], record["key"], record["user"] = netns, key, image["os_user"]
        record["booted_after"] = time.monotonic() - started
        yield record
    finally:
        # Whatever happened, no instance of this run outlives it.
        for left in InstanceStore().records():
            if left.get("bridge_netns") == netns:
                cli("terminate-instances", left["instance_id"], check=False)


def ssh(instance, command, timeout=30):
    argv = ["nsenter", "--net=/run/netns/%s" % instance["netns"], "ssh", "-F", "/dev/null", "-i", instance["key"],
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            "%s@%s" % (instance["user"], ADDRESS), command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def test_boots_to_running(instance):
    assert instance["state"] == "running"
    assert instance["system_state"] in ("running", "degraded"), instance
    assert set(instance["failed_units"]) <= KNOWN_FAILED


def test_ssh_as_the_os_user_with_the_key(instance):
    started = time.monotonic()
    while True:
        done = ssh(instance, "id -un; hostname")
        if done.returncode == 0 or time.monotonic() - started > 60:
            break
        time.sleep(0.5)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [instance["user"], "node1"]
    figure("run-instance to systemd booted", "%.2f s" % instance["booted_after"])
    figure("run-instance to SSH answering", "%.2f s" % (instance["booted_after"] + time.monotonic() - started))


def test_slurm_of_the_release(instance, image):
    series = recipes.RELEASES[image["release"]]["slurm"]
    daemon = ssh(instance, "/opt/slurm/sbin/slurmd -V; /opt/slurm/sbin/slurmctld -V")
    assert daemon.stdout.split("\n")[:2] == ["slurm-wlm %s" % image["slurm_version"].split("-")[0]] * 2, daemon
    # Slurm 24.11's client commands read a configuration even for --version.
    client = ssh(instance, "printf 'ClusterName=img\\nSlurmctldHost=node1\\n' > /tmp/s.conf && "
                           "SLURM_CONF=/tmp/s.conf sinfo --version")
    assert client.returncode == 0 and client.stdout.startswith("slurm-wlm %s." % series), client


def test_parallelcluster_paths(instance):
    done = ssh(instance, "readlink /etc/slurm; ls /opt/slurm/bin | grep -cx 'sbatch\\|srun\\|squeue\\|scontrol'; "
                         "bash -lc 'echo $PATH'")
    lines = done.stdout.split("\n")
    assert lines[0] == "/opt/slurm/etc" and lines[1] == "4" and ":/opt/slurm/bin" in lines[2], done


def test_process_list_is_the_instances(instance):
    inside = ssh(instance, "ps -e -o pid=,comm=").stdout.split("\n")
    processes = [line.split(None, 1) for line in inside if line.strip()]
    assert processes[0] == ["1", "systemd"]
    names = {name for _pid, name in processes}
    assert {"sshd", "systemd-journal"} <= names
    assert not names & {"pytest", "python", "python3", "process_api", "init"}
    host_side = boot.pids_in_namespace(instance["pid_namespace"])
    assert instance["pid"] in host_side and len(processes) <= len(host_side) + 3


def test_sudo_without_password(instance):
    done = ssh(instance, "sudo -n true && sudo -n id -u")
    assert done.returncode == 0 and done.stdout.strip() == "0", done


def test_modules_and_mpi(instance):
    done = ssh(instance, "bash -lc 'module load openmpi && echo $MPI_HOME && mpirun --version'")
    assert done.returncode == 0 and "Open MPI" in done.stdout, done


def test_writes_stay_in_the_instance_layer(instance, image):
    done = ssh(instance, "sudo -n touch /etc/hpcw-marker /usr/hpcw-marker && echo ok")
    assert done.stdout.strip() == "ok", done
    upper = os.path.join(InstanceStore().folder(instance["instance_id"]), "upper")
    rootfs = ImageCache().rootfs(image["image_id"])
    for path in ("etc/hpcw-marker", "usr/hpcw-marker"):
        assert os.path.exists(os.path.join(upper, path))
        assert not os.path.exists(os.path.join(rootfs, path)) and not os.path.exists("/" + path)


def test_machine_is_out_of_reach(instance):
    """Root inside is no one on the machine: it cannot make device nodes, write the kernel's settings
    (not even through a proc of its own), or see the machine's disks."""
    with open("/proc/sys/kernel/core_pattern") as handle:
        core_pattern = handle.read()
    done = ssh(instance, "ls /dev; cat /proc/self/uid_map; sudo -n mknod /tmp/disk b 254 0 2>&1 || echo mknod-refused; "
                         "sudo -n sh -c 'echo 3 > /proc/sys/vm/drop_caches' 2>&1 || echo sysctl-refused; "
                         "sudo -n mkdir -p /tmp/p && sudo -n mount -t proc proc /tmp/p && "
                         "{ sudo -n sh -c 'echo hpcw > /tmp/p/sys/kernel/core_pattern' 2>&1 || echo core-refused; }")
    assert "mknod-refused" in done.stdout and "sysctl-refused" in done.stdout, done
    assert "core-refused" in done.stdout, done
    with open("/proc/sys/kernel/core_pattern") as handle:
        assert handle.read() == core_pattern
    devices = set(done.stdout.split())
    assert not {"vda", "sda", "nvme0n1", "mem", "kmsg"} & devices, done
    assert "0 %d 65536" % instance["id_base"] in " ".join(done.stdout.split()), done


def test_network_settings_are_the_instances(instance):
    """The instance's own network settings are its to change (systemd-sysctl runs): the OS user pings."""
    done = ssh(instance, "cat /proc/sys/net/ipv4/ping_group_range; ping -c 1 -W 2 %s >/dev/null && echo ping-ok" % GATEWAY)
    assert "ping-ok" in done.stdout, done


def test_found_again_by_another_process(instance):
    listed = json.loads(cli("describe-instances").stdout)["instances"]
    mine = [r for r in listed if r["instance_id"] == instance["instance_id"]]
    assert len(mine) == 1 and mine[0]["state"] == "running" and mine[0]["private_ip_address"] == ADDRESS
    assert mine[0]["tags"] == {"parallelcluster:node-type": "Compute"}


def test_idle_footprint(instance):
    total = 0
    for pid in boot.pids_in_namespace(instance["pid_namespace"]):
        try:
            with open("/proc/%d/smaps_rollup" % pid) as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except OSError:
            pass
    assert total > 0
    figure("memory of the idle instance (PSS of its processes)", "%.1f MiB" % (total / 1024.0))


def test_terminate_leaves_nothing(instance):
    folder = InstanceStore().folder(instance["instance_id"])
    cgroup = boot.cgroup_folder(boot.cgroup2_mount(), instance["instance_id"])
    assert os.path.isdir(cgroup)
    started = time.monotonic()
    done = json.loads(cli("terminate-instances", instance["instance_id"]).stdout)["terminated"][0]
    figure("terminate-instances", "%.2f s" % (time.monotonic() - started))
    assert done["killed"] == instance["pid"]
    assert boot.pids_in_namespace(instance["pid_namespace"]) == []
    assert not os.path.exists(folder) and not os.path.exists(cgroup)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/mountinfo" % entry) as handle:
                    assert folder not in handle.read(), "process %s still has a mount of %s" % (entry, folder)
            except OSError:
                pass
    link = subprocess.run(["ip", "-n", instance["netns"], "link", "show", "dev", instance["host_link"]],
                          capture_output=True, check=False)
    assert link.returncode != 0
    assert instance["instance_id"] not in cli("describe-instances").stdout
    if not InstanceStore().ids():
        # The last instance took the store's folder along, and the state folder when it was empty.
        assert not os.path.exists(InstanceStore().root)
        state = os.path.dirname(InstanceStore().root)
        assert not os.path.isdir(state) or os.listdir(state), "%s was left empty" % state
