# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local provider's EC2 API on the command line: run, describe and terminate instances of a
node image, and build an image. Root only; answers are JSON on standard output, errors a message
on standard error and exit status 1 (2 for a wrong option).

    python3 -m ansible_collections.hpc.parallelcluster.plugins.module_utils.local_ec2_cli \\
        run-instance --image-id ami-... --hostname node1 --address 10.77.0.11/24 \\
        --bridge hpcw-br0 [--bridge-netns NS] [--gateway 10.77.0.1] --public-key-file KEY.pub [--wait 120]
    ... describe-instances [INSTANCE_ID...]
    ... terminate-instances INSTANCE_ID...
    ... build-image [--release trixie] [--os alinux2]
    ... describe-images
    ... deregister-image IMAGE_ID             (removes it from the cache unless an instance uses it)

It is meant to become the narrow helper Slurm's ResumeProgram and SuspendProgram call through.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

from ansible_collections.hpc.parallelcluster.plugins.module_utils import node_image_recipe as recipes
from ansible_collections.hpc.parallelcluster.plugins.module_utils.local_instances import Launcher
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_build import Builder
from ansible_collections.hpc.parallelcluster.plugins.module_utils.node_image_cache import ImageCache
from ansible_collections.hpc.parallelcluster.plugins.module_utils.owned_files import open_owned
from ansible_collections.hpc.parallelcluster.plugins.module_utils.owned_files import read_at_most


def parser():
    top = argparse.ArgumentParser(prog="local_ec2_cli", description="The local provider's EC2 API (root only).")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run-instance", help="start an instance of a node image")
    run.add_argument("--image-id", required=True)
    run.add_argument("--hostname", required=True)
    run.add_argument("--address", required=True, help="the instance's address with its prefix, e.g. 10.77.0.11/24")
    run.add_argument("--gateway")
    run.add_argument("--bridge", required=True)
    run.add_argument("--bridge-netns", help="the network namespace the bridge is in (default: this machine's)")
    run.add_argument("--public-key-file", required=True, help="the key pair's public key (a root-owned file)")
    run.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--wait", type=int, default=0, metavar="SECONDS", help="wait until systemd has booted")
    describe = commands.add_parser("describe-instances", help="the instances and their states")
    describe.add_argument("instance_ids", nargs="*")
    terminate = commands.add_parser("terminate-instances", help="stop instances and remove all they had")
    terminate.add_argument("instance_ids", nargs="+")
    build = commands.add_parser("build-image", help="build a node image unless the cache has it")
    build.add_argument("--release", default=recipes.DEFAULT_RELEASE)
    build.add_argument("--os", default=recipes.DEFAULT_OS)
    build.add_argument("--mirror", default=recipes.DEFAULT_MIRROR)
    commands.add_parser("describe-images", help="the images in the cache")
    deregister = commands.add_parser("deregister-image", help="remove an image from the cache")
    deregister.add_argument("image_id")
    return top


def read_key(path):
    """A public key from a file of root's (this runs as root: a file another account could swap
    for a link to a secret is refused)."""
    handle, problem = open_owned(path, (0,), "root", whole_path=True)
    if handle is None:
        raise ValueError("--public-key-file %s %s" % (path, problem))
    with handle:
        data = read_at_most(handle, 16384)
    if data is None:
        raise ValueError("--public-key-file %s is larger than 16 KiB; it must hold one public key" % path)
    return data.decode("utf-8", "replace")


def main(argv=None, out=sys.stdout, err=sys.stderr):
    args = parser().parse_args(argv)
    if os.geteuid() != 0:
        err.write("local_ec2_cli: run as root\n")
        return 1
    try:
        if args.command == "build-image":
            recipe = recipes.make_recipe(args.release, args.os, machine=platform.machine(), mirror=args.mirror)
            manifest, built = Builder(ImageCache(), progress=lambda m: err.write(m + "\n") or err.flush()).ensure(recipe)
            answer = dict(manifest, built=built)
        elif args.command == "describe-images":
            answer = {"images": ImageCache().images()}
        elif args.command == "deregister-image":
            users = [r["instance_id"] for r in Launcher().describe() if r.get("image_id") == args.image_id]
            if users:
                raise ValueError("image %s is used by instances %s; terminate them first"
                                 % (args.image_id, ", ".join(users)))
            answer = {"image_id": args.image_id, "removed": ImageCache().remove(args.image_id)}
        else:
            launcher = Launcher()
            if args.command == "run-instance":
                tags = dict(tag.split("=", 1) for tag in args.tag if "=" in tag)
                answer = launcher.run(args.image_id, args.hostname, args.address, args.bridge,
                                      read_key(args.public_key_file), args.bridge_netns, args.gateway, tags)
                if args.wait:
                    answer["system_state"], answer["failed_units"] = launcher.wait_ready(answer["instance_id"],
                                                                                         args.wait)
            elif args.command == "describe-instances":
                answer = {"instances": launcher.describe(args.instance_ids)}
            else:
                answer = {"terminated": [launcher.terminate(i) for i in args.instance_ids]}
    except (ValueError, RuntimeError, OSError, KeyError) as exc:
        err.write("local_ec2_cli: %s\n" % (exc,))
        return 1
    out.write(json.dumps(answer, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
