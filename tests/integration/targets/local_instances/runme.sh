#!/usr/bin/env bash
# shellcheck disable=SC2154  # venv, work and here come from target_lib.sh
# The local provider's AMI and EC2 instances, really booted: the default node image (built once,
# then cached under /var/cache/hpc-parallelcluster/images), one instance of it on a bridge in a
# network namespace made for the run, checked over SSH, then terminated with nothing left.
# Needs root. Prints its figures (image, boot, terminate, memory). HPC_NODE_IMAGE_RELEASE=bookworm
# checks an image of that release instead.
set -euo pipefail
source "$(dirname "$0")/../../target_lib.sh"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
"$venv/bin/python" -m pytest "$here/instance_boot_checks.py" -q -p no:cacheprovider -s \
  --basetemp "$work/pytest"
echo "local_instances: an instance booted, answered over SSH and left nothing, in $((SECONDS - start)) s"
