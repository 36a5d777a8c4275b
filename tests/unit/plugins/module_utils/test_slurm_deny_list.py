"""The deny list without aws-parallelcluster is the pinned release's own."""

import builtins

from ansible_collections.hpc.parallelcluster.plugins.module_utils import slurm_deny_list as sdl


def test_the_copy_is_the_pinned_releases_list():
    from pcluster.validators.slurm_settings_validator import SLURM_SETTINGS_DENY_LIST
    assert sdl.PINNED_DENY_LIST == SLURM_SETTINGS_DENY_LIST


def test_without_aws_parallelcluster_the_copy_serves(monkeypatch):
    real_import = builtins.__import__

    def no_pcluster(name, *args, **kwargs):
        if name.startswith("pcluster"):
            raise ImportError("No module named %r" % name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_pcluster)
    assert sdl.deny_list() is sdl.PINNED_DENY_LIST
    keys = sdl.cluster_level_keys(accounting=True)
    assert "slurmuser" in keys and "resumeprogram" in keys and "accountingstoragetype" in keys
    assert "accountingstoragetype" not in sdl.cluster_level_keys(accounting=False)
