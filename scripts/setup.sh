#!/usr/bin/env bash
# Prepare this checkout to run the collection: a virtualenv in .venv with the pinned Python
# dependencies (ansible bundles amazon.aws offline), and .collections/ so that ansible finds
# this repository as hpc.parallelcluster. Re-running is cheap: nothing is redone while
# requirements.txt and constraints.txt are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${HPC_PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=$(command -v python3 || echo /usr/bin/python3)

need_apt=()
# A minimal Debian (a container or debootstrap image) may have no Python at all.
[ -x "$python" ] || need_apt+=(python3)
"$python" -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
command -v sudo >/dev/null || need_apt+=(sudo)
# ansible-test sanity's shellcheck test is skipped (with only a warning) without it.
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
# pcluster.lib's create and update (dry runs included) need Node.js for the AWS CDK.
command -v node >/dev/null || need_apt+=(nodejs)
# The local provider's node image is built with debootstrap; its instances are reached over SSH.
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v ssh >/dev/null || need_apt+=(openssh-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp=.venv/.requirements.sha
want=$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv with $("$python" --version)"
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check \
    -r requirements.txt -c constraints.txt 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import ansible, boto3, moto, pcluster' 
  echo "$want" > "$stamp"
fi

mkdir -p .collections/ansible_collections/hpc
link=.collections/ansible_collections/hpc/parallelcluster
[ -L "$link" ] || ln -sfn "$root" "$link"
