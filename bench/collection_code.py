"""The collection's own Python code, for the bench scripts: the checkout's .collections link is put
on ansible's collection path once, and a module_utils module is imported from it."""

import functools
import importlib
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=None)
def _init_collection_path():
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([os.path.join(ROOT, ".collections")])


def module_utils(name):
    """hpc.parallelcluster's plugins/module_utils/<name>.py."""
    _init_collection_path()
    return importlib.import_module("ansible_collections.hpc.parallelcluster.plugins.module_utils." + name)
