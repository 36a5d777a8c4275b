#!/usr/bin/env bash
# Integration test of roles/local_cloud against a real moto_server on a spare port (5055).
# shellcheck disable=SC2154  # here and work are set by target_lib.sh
set -euo pipefail
source "$(dirname "$0")/../../target_lib.sh"
# Whatever happens, leave no emulator behind.
cleanup() {
  rc=$?
  [ "$rc" -ne 0 ] && tail -n 20 "$work"/local_cloud/*.log 2>/dev/null
  for pidfile in "$work"/local_cloud/*.pid "$work"/blocker.pid; do
    if [ -f "$pidfile" ]; then
      start-stop-daemon --stop --quiet --pidfile "$pidfile" --retry TERM/5/KILL/5 || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

play --check "$here/check_start.yml"
play "$here/start.yml"
play --check "$here/check_stop.yml"
play "$here/stop.yml"
