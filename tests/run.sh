#!/usr/bin/env bash
# Every test: static checks (ansible-test sanity, ansible-lint, the collection tarball), unit tests
# (ansible-test units), the emulator roles' molecule scenarios and integration targets, then the
# end-to-end cluster lifecycle.
# `tests/run.sh sanity`, `tests/run.sh unit`, `tests/run.sh molecule` or `tests/run.sh integration`
# runs one layer.
#
# In a full run the static and unit layers (CPU-bound, no network, on their own copy of the
# checkout) start at once, at a low CPU and I/O priority (nice 10, best-effort 7), and go on in the
# background: first beside the emulator layers (each scenario and target has an AWS API emulator on
# its own loopback port), then beside the cluster lifecycle, which drives the machine's one local
# cluster. Those two run at normal priority, so the static side gets little of the CPU they want, and
# the lifecycle spends most of its time waiting on Slurm. Each side's output is printed when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg
export PATH=$PWD/.venv/bin:$PATH
layer=${1:-all}
logs=$PWD/tests/output/layers
mkdir -p "$logs"
rm -f "$logs"/*.failed

section() { printf '\n=== %s ===\n' "$*"; }
# timed NAME CMD...: runs CMD, prints how long it took, and returns its status.
timed() {
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  "$@" || rc=$?
  printf '(%s: %ss, exit %s)\n' "$name" "$(( $(date +%s) - start ))" "$rc"
  return "$rc"
}

# Each function runs its checks in order and appends the name of any that fails to $logs/<side>.failed.
static_layers() {
  local failed=$logs/static.failed
  : > "$failed"
  if [[ $layer == all || $layer == sanity ]]; then
    section "ansible-test sanity"
    timed sanity tests/sanity.sh || echo sanity >> "$failed"
    section "ansible-lint"
    timed lint tests/lint.sh || echo lint >> "$failed"
    section "collection tarball (offline install, ansible-doc, syntax check, execution environment)"
    timed tarball tests/tarball.sh || echo tarball >> "$failed"
  fi
  if [[ $layer == all || $layer == unit ]]; then
    section "unit tests (ansible-test units)"
    timed units tests/units.sh || echo unit >> "$failed"
  fi
}

emulator_layers() {
  local failed=$logs/emulator.failed target name pids=()
  : > "$failed"
  if [[ $layer == all || $layer == molecule ]]; then
    section "molecule scenarios of the emulator roles"
    timed molecule tests/molecule.sh emulator || echo molecule >> "$failed"
  fi
  if [[ $layer == all || $layer == integration ]]; then
    # Each target has its own emulator port: side by side, each into its own log, printed in order.
    for target in tests/integration/targets/*/; do
      [[ -x $target/runme.sh ]] || continue
      name=$(basename "$target")
      ( timed "target $name" "$target/runme.sh" > "$logs/target-$name.log" 2>&1 || echo "target:$name" >> "$failed" ) &
      pids+=("$!")
    done
    # Only the targets: the static side may be running in the background of this same shell.
    wait "${pids[@]}"
    for target in tests/integration/targets/*/; do
      [[ -x $target/runme.sh ]] || continue
      name=$(basename "$target")
      section "integration target $name"
      cat "$logs/target-$name.log"
    done
  fi
}

lifecycle() {
  section "cluster lifecycle (site.yml, smoke test, scaling, teardown)"
  timed lifecycle python -m pytest tests/integration -q -p no:cacheprovider -x --durations=30 \
    || echo lifecycle >> "$logs/lifecycle.failed"
}

if [[ $layer == all ]]; then
  start=$(date +%s)
  # The static side, niced: it gets little of the CPU while the emulator layers or the lifecycle want it.
  (
    renice -n 10 -p "$BASHPID" > /dev/null
    ionice -c 2 -n 7 -p "$BASHPID"
    timed "static and unit layers" static_layers
  ) > "$logs/static.log" 2>&1 &
  static_pid=$!
  emulator_layers > "$logs/emulator.log" 2>&1 || true
  cat "$logs/emulator.log"
  printf '\n(emulator layers: %ss)\n' "$(( $(date +%s) - start ))"
  lifecycle
  wait "$static_pid" || true
  cat "$logs/static.log"
  printf '\n(all layers: %ss)\n' "$(( $(date +%s) - start ))"
else
  static_layers
  emulator_layers
  [[ $layer != integration ]] || lifecycle
fi

failed=$(cat "$logs"/*.failed 2>/dev/null | tr '\n' ' ')
rm -f "$logs"/*.failed
if [[ -n ${failed// /} ]]; then
  echo "FAILED: $failed"
  exit 1
fi
echo "all test layers passed"
