# The front door. `make site` sets up and deploys the local cluster, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
ANSIBLE_PLAYBOOK := $(VENV)/bin/ansible-playbook
ARGS ?=
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup site teardown test test-sanity test-unit test-molecule test-integration bench clean

setup:
	@bash scripts/setup.sh

site: setup
	$(ANSIBLE_PLAYBOOK) playbooks/site.yml $(ARGS)

teardown: setup
	$(ANSIBLE_PLAYBOOK) playbooks/teardown.yml $(ARGS)

test: setup
	@bash tests/run.sh

test-sanity: setup
	@bash tests/run.sh sanity

test-unit: setup
	$(VENV)/bin/python -m pytest tests/unit -q

# The emulator roles' molecule scenarios (tests/molecule.sh; `tests/molecule.sh cluster` needs make site).
test-molecule: setup
	@bash tests/molecule.sh emulator

test-integration: setup
	@bash tests/run.sh integration

# Figures (bench/README.md): replaces the local cluster with a 22-node one and tears it down after.
bench: setup
	.venv/bin/python bench/run.py $(ARGS)
