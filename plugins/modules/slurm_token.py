#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: slurm_token
short_description: Mint an expiring Slurm JWT for one user, for slurmrestd
version_added: 0.1.0
description:
  - Runs C(scontrol token username=<user> lifespan=<seconds>) on the head node and returns the
    token, for M(hpc.parallelcluster.slurm_job) with O(hpc.parallelcluster.slurm_job#module:backend=rest)
    or any other slurmrestd client.
  - The token is a secret. The task's result is hidden from output at every verbosity, as with
    C(no_log=true) (the collection's action plugin for this module sets it), while the registered
    variable keeps the token. Pass it on only to options that are themselves C(no_log), such as
    O(hpc.parallelcluster.slurm_job#module:rest_token), and never print it with M(ansible.builtin.debug).
  - Each run mints a new token, so the task reports C(changed=true); nothing on the cluster changes
    (Slurm keeps no record of tokens - they are signed with the cluster's JWT key and expire by
    themselves).
  - The cluster must have JWT authentication (role P(hpc.parallelcluster.slurm_rest#role)), and the
    module must run as root or as SlurmUser on the head node (only they may mint tokens for other
    users).
author:
  - hpc.parallelcluster maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - hpc.parallelcluster.attributes
  - hpc.parallelcluster.attributes.slurm_group
  - hpc.parallelcluster.slurm
attributes:
  check_mode:
    support: full
    details: Mints no token in check mode; RV(token) is not returned.
  diff_mode:
    support: none
options:
  username:
    description: The user the token authenticates.
    type: str
    required: true
  lifespan:
    description: Seconds the token stays valid. Keep it as short as the work that needs it.
    type: int
    default: 1800
"""

EXAMPLES = r"""
- name: Mint a token for ec2-user, valid for 30 minutes
  hpc.parallelcluster.slurm_token:
    username: ec2-user
    lifespan: 1800
  delegate_to: "{{ groups['head_nodes'][0] }}"
  register: slurm_token

- name: Submit through the REST API from the control node
  hpc.parallelcluster.slurm_job:
    backend: rest
    rest_url: http://{{ hostvars[groups['head_nodes'][0]].ansible_host }}:6830
    rest_token: "{{ slurm_token.token }}"
    wrap: hostname
    state: completed
"""

RETURN = r"""
token:
  description: The JWT (a secret; shown as a masked value in output).
  returned: success, not in check mode
  type: str
username:
  description: The user the token is for.
  returned: always
  type: str
lifespan:
  description: Seconds the token is valid from now.
  returned: always
  type: int
expires:
  description: Expiry time of the token, seconds since the epoch.
  returned: success, not in check mode
  type: int
"""

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_cli import DEFAULT_SLURM_CONF
from ansible_collections.hpc.parallelcluster.plugins.module_utils.slurm_rest import token_claims

TOKEN_LINE = re.compile(r"^SLURM_JWT=(\S+)\s*$", re.MULTILINE)


def parse_token(stdout):
    """The token in ``scontrol token`` output (``SLURM_JWT=<token>``), or None."""
    match = TOKEN_LINE.search(stdout or "")
    return match.group(1) if match else None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            username=dict(type="str", required=True),
            lifespan=dict(type="int", default=1800),
            slurm_conf=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["lifespan"] <= 0:
        module.fail_json(msg="lifespan must be a positive number of seconds")
    if not re.match(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*$", p["username"]):
        module.fail_json(msg="username %r is not a user name" % p["username"])
    result = dict(changed=True, username=p["username"], lifespan=p["lifespan"])
    if module.check_mode:
        module.exit_json(msg="would mint a token", **result)
    slurm_conf = p["slurm_conf"] or os.environ.get("SLURM_CONF") or DEFAULT_SLURM_CONF
    # The token goes to stdout only: it never appears on a command line or in the environment. An
    # inherited SLURM_JWT would make scontrol authenticate with that token instead of munge.
    os.environ.pop("SLURM_JWT", None)
    rc, out, err = module.run_command(
        ["scontrol", "token", "username=%s" % p["username"], "lifespan=%d" % p["lifespan"]],
        environ_update={"SLURM_CONF": slurm_conf}, check_rc=False)
    token = parse_token(out)
    if rc != 0 or not token:
        message = (err or "").strip()
        if token:
            message = message.replace(token, "********")
        hint = ""
        if "disabled" in message.lower() or "jwt" in message.lower() or "not supported" in message.lower():
            hint = " (is JWT authentication enabled? apply the hpc.parallelcluster.slurm_rest role)"
        module.fail_json(msg="scontrol token failed (rc=%s): %s%s" % (rc, message or "no token printed", hint), rc=rc)
    claims = token_claims(token) or {}
    expires = claims.get("exp") if isinstance(claims.get("exp"), int) else int(time.time()) + p["lifespan"]
    module.exit_json(token=token, expires=expires, **result)


if __name__ == "__main__":
    main()
