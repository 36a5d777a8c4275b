#!/usr/bin/env bash
# The collection as users get it: the tarball of `ansible-galaxy collection build`, installed offline.
#
#   tests/tarball.sh [check]   build it, install it into an empty collections path (no Galaxy:
#                              amazon.aws comes with the ansible package), check that ansible-doc
#                              renders pcluster_cluster and that `ansible-playbook hpc.parallelcluster.site
#                              --syntax-check` passes with the inventory shipped in the tarball, that
#                              no checkout tooling or state is inside, and that ansible-builder
#                              turns execution-environment.yml into a build context.
#   tests/tarball.sh build     only build it, into dist/ (execution-environment.yml takes it from there).
#   tests/tarball.sh run-site [ansible-playbook args]
#                              install it as above and run `ansible-playbook hpc.parallelcluster.site`
#                              from there against this checkout's inventories/local: needs root and
#                              deploys (or, when make site already ran, converges) the local cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-check}
[[ $# -gt 0 ]] && shift
venv=$root/.venv
[[ -x $venv/bin/ansible-galaxy ]] || { echo "tarball: $venv missing, run scripts/setup.sh first" >&2; exit 2; }
export PATH=$venv/bin:$PATH
unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

work=$(mktemp -d "${TMPDIR:-/tmp}/hpc-tarball.XXXXXX")
trap 'rm -rf "$work"' EXIT

build() {  # build DIR: the tarball of this checkout's files (tracked and untracked, not ignored)
  local src=$work/src
  mkdir -p "$src"
  git -C "$root" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done \
    | tar -C "$root" --null --no-recursion -T - -cf - | tar -C "$src" -xf -
  ansible-galaxy collection build --force --output-path "$1" "$src" >/dev/null
  ls "$1"/hpc-parallelcluster-*.tar.gz
}

install() {  # install TARBALL into $work/collections, with nothing else on the collections path
  # Settings of the checkout's ansible.cfg that the inventory needs, without its collections_path.
  cat > "$work/ansible.cfg" <<CFG
[defaults]
interpreter_python = auto_silent
callback_result_format = yaml
retry_files_enabled = false
host_key_checking = false
forks = 10
[inventory]
enable_plugins = hpc.parallelcluster.pcluster, ansible.builtin.yaml, ansible.builtin.ini, ansible.builtin.host_list
ignore_patterns = cluster-config, overlays
CFG
  export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$work/collections
  (cd "$work" && ansible-galaxy collection install --offline --no-deps -p "$work/collections" "$1" >/dev/null)
  installed=$work/collections/ansible_collections/hpc/parallelcluster
  [[ -f $installed/MANIFEST.json ]] || { echo "tarball: not installed under $installed" >&2; exit 1; }
}

case $mode in
  build)
    mkdir -p "$root/dist"
    rm -f "$root"/dist/hpc-parallelcluster-*.tar.gz
    build "$root/dist"
    ;;
  check)
    tarball=$(build "$work/dist")
    listing=$(tar tzf "$tarball")
    echo "tarball: built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) kB, $(wc -l <<< "$listing") entries)"
    unwanted=$(grep -E '(^|/)(\.venv|\.collections|\.state|\.cache|\.config|__pycache__|tests/output|dist|bench)(/|$)|\.pyc$' <<< "$listing" || true)
    [[ -z $unwanted ]] || { echo "tarball: holds files it must not: $unwanted" >&2; exit 1; }
    for needed in meta/runtime.yml playbooks/site.yml inventories/local/hosts.yml roles/pcluster/tasks/main.yml \
                  plugins/doc_fragments/attributes.py execution-environment.yml; do
      grep -qx "$needed" <<< "$listing" || { echo "tarball: $needed missing" >&2; exit 1; }
    done
    install "$tarball"
    cd "$work"
    ansible-doc hpc.parallelcluster.pcluster_cluster | grep -q 'hpc.parallelcluster.pcluster_cluster' \
      || { echo "tarball: ansible-doc did not render pcluster_cluster" >&2; exit 1; }
    [[ $(ansible-doc -t module -l hpc.parallelcluster | wc -l) -eq $(find "$root/plugins/modules" -name '*.py' | wc -l) ]] \
      || { echo "tarball: ansible-doc -l does not list every module" >&2; exit 1; }
    # The inventory as shipped, copied out of the installed collection the way a user would.
    cp -r "$installed/inventories/local" "$work/inventory"
    (cd "$work" && ansible-playbook hpc.parallelcluster.site -i "$work/inventory" --syntax-check >/dev/null)
    (cd "$work" && ansible-playbook hpc.parallelcluster.teardown -i "$work/inventory" --syntax-check >/dev/null)
    echo "tarball: installed offline; ansible-doc and site/teardown --syntax-check pass from it"
    # The execution environment's build context (ansible-builder create needs no container engine).
    ee=$work/ee
    mkdir -p "$ee/dist" "$ee/meta"
    cp "$root/execution-environment.yml" "$ee/"
    cp "$root"/meta/ee-* "$ee/meta/"
    cp "$tarball" "$ee/dist/"
    (cd "$ee" && ansible-builder create -f execution-environment.yml -c context --output-filename Containerfile >/dev/null)
    if ! grep -q 'ansible-galaxy collection install --offline --no-deps' "$ee/context/Containerfile" \
        || [[ ! -f $ee/context/_build/collection/$(basename "$tarball") ]]; then
      echo "tarball: ansible-builder create did not produce the expected build context" >&2
      exit 1
    fi
    echo "tarball: ansible-builder create made the execution environment's build context"
    # What ansible-builder finds in the installed collection: run-time needs (Node.js for pcluster's
    # create among them), none of the checkout's test tools.
    introspected=$(ansible-builder introspect "$work/collections" 2>&1)
    if grep -qiE "^\s*-?\s*'?(moto|pytest|molecule|ansible-lint|ansible-builder|mock)([=<> \[]|$)" <<< "$introspected" \
        || ! grep -q 'nodejs' <<< "$introspected" || ! grep -q 'aws-parallelcluster' <<< "$introspected"; then
      echo "tarball: ansible-builder introspect of the installed collection is not the run-time set:" >&2
      echo "$introspected" >&2
      exit 1
    fi
    echo "tarball: ansible-builder introspect finds the run-time dependencies only (Node.js included)"
    ;;
  run-site)
    tarball=$(build "$work/dist")
    install "$tarball"
    # This checkout's inventory: its state directory (key, bucket suffix) is the one make site uses.
    cd "$work"
    ansible-playbook hpc.parallelcluster.site -i "$root/inventories/local" "$@"
    ;;
  *)
    echo "usage: tests/tarball.sh [check|build|run-site [ansible-playbook args]]" >&2
    exit 2
    ;;
esac
