#!/usr/bin/env bash
# ansible-test sanity (all default tests) for this collection, offline and from any checkout.
# Extra arguments go to ansible-test, e.g. `tests/sanity.sh --test pylint`. See tests/ansible_test.sh.
exec "$(dirname "$0")/ansible_test.sh" sanity "$@"
