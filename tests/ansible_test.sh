#!/usr/bin/env bash
# ansible-test for this collection, offline and from any checkout:
#   tests/ansible_test.sh sanity [args]   all default sanity tests (tests/sanity.sh)
#   tests/ansible_test.sh units [args]    tests/unit with ansible-test's pytest set-up (tests/units.sh)
# Extra arguments go to ansible-test, e.g. `tests/ansible_test.sh sanity --test pylint`.
#
# ansible-test only runs from a directory that is physically .../ansible_collections/hpc/parallelcluster
# and it reads untracked files too, so it runs on a temporary copy of the files git knows (tracked plus
# untracked but not ignored): .venv, .collections and other tool folders stay out of it, and the checkout
# can live anywhere. Nothing is left outside the repo but ansible-test's own caches under ~/.ansible/test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
command=${1:?usage: tests/ansible_test.sh sanity|units [ansible-test arguments]}
shift
case $command in
  sanity|units) ;;
  *) echo "ansible_test: unknown command $command (sanity or units)" >&2; exit 2 ;;
esac
ansible_test=$root/.venv/bin/ansible-test
[[ -x $ansible_test ]] || { echo "$command: $ansible_test missing, run scripts/setup.sh first" >&2; exit 2; }
# --local runs in .venv, so the Python is the venv's (3.11 on Debian 12, 3.13 on Debian 13).
python_version=${ANSIBLE_TEST_PYTHON:-${SANITY_PYTHON:-$("$root/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}}
export PATH=$root/.venv/bin:$PATH
# This checkout's ansible.cfg points at .collections (the checkout itself): ansible-test must see the copy.
unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

cache_dir=$HOME/.ansible/test/cache
mkdir -p "$cache_dir"
# ansible-test's sanity venvs and the get-pip stand-in below are shared by every checkout on this
# machine, and ansible-test rebuilds a venv it finds half made: one run at a time.
exec 9<"$cache_dir"
flock -n 9 || { echo "$command: waiting for another ansible-test run to finish"; flock 9; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hpc-$command.XXXXXX")
get_pip=
cleanup() {
  rm -rf "$work"
  # Only our own stand-in goes; a real get-pip downloaded by an online run stays.
  if [[ -n $get_pip ]]; then
    rm -f "$get_pip" "$cache_dir/__pycache__/$(basename "$get_pip" .py)".*.pyc
    rmdir "$cache_dir/__pycache__" 2>/dev/null || true
  fi
}
trap cleanup EXIT

dest=$work/ansible_collections/hpc/parallelcluster
mkdir -p "$dest"
git -C "$root" ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done \
  | tar -C "$root" --null --no-recursion -T - -cf - | tar -C "$dest" -xf -

# The collections this one depends on (galaxy.yml) come bundled with the pinned ansible package:
# ansible-test finds them only beside this collection, under the same ansible_collections folder.
"$root/.venv/bin/python" - "$root/galaxy.yml" "$work/ansible_collections" <<'EOF'
import importlib.util
import os
import sys

import yaml

galaxy, dest = sys.argv[1:]
roots = importlib.util.find_spec('ansible_collections').submodule_search_locations
for dep in (yaml.safe_load(open(galaxy)).get('dependencies') or {}):
    namespace, name = dep.split('.')
    found = [os.path.join(r, namespace, name) for r in roots if os.path.isdir(os.path.join(r, namespace, name))]
    if not found:
        sys.exit('ansible-test: collection %s (a galaxy.yml dependency) is not installed' % dep)
    os.makedirs(os.path.join(dest, namespace), exist_ok=True)
    os.symlink(found[0], os.path.join(dest, namespace, name))
EOF

# Offline, ansible-test cannot download get-pip.py to bootstrap pip in its sanity venvs. Where the cache
# has none, put a stand-in there for this run: it bootstraps the pip bundled with Python (ensurepip),
# then installs the pip version ansible-test asks for from the configured index.
pip_version=$("$root/.venv/bin/python" -c '
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])' "$python_version")
cached=$cache_dir/get_pip_${pip_version//./_}.py
if [[ ! -s $cached ]]; then
  get_pip=$cached
  cat > "$get_pip" <<'EOF'
"""Offline stand-in for get-pip.py, used by ansible-test to bootstrap pip (see tests/sanity.sh)."""
import os
import subprocess
import sys

import ensurepip

args = sys.argv[1:]
saved = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
# ensurepip sets PIP_CONFIG_FILE=/dev/null: the pip runs below must see the machine's pip config.
os.environ.clear()
os.environ.update(saved)
pip = [sys.executable, '-m', 'pip']
rc = subprocess.call(pip + ['install'] + [a for a in args if a not in ('--no-setuptools', '--no-wheel')])
if rc == 0 and '--no-setuptools' in args:
    rc = subprocess.call(pip + ['uninstall', '-q', '-y', 'setuptools'])
sys.exit(rc)
EOF
fi

cd "$dest"
if [[ $command == units ]]; then
  # --local runs pytest in this venv: pytest, pytest-xdist, pytest-mock and mock are pinned in
  # requirements.txt, so nothing is installed (and nothing downloaded) here.
  "$ansible_test" units --local --python "$python_version" --color no "$@"
else
  "$ansible_test" sanity --local --python "$python_version" --color no "$@"
fi
