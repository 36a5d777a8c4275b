#!/usr/bin/env bash
# Integration test of roles/monitoring against a real moto_server on a spare port (5059).
set -euo pipefail
source "$(dirname "$0")/../../target_lib.sh"
run_role_target
