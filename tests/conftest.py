"""Make this checkout importable as ``ansible_collections.hpc.parallelcluster`` for pytest, through
ansible's own collection loader (the way ansible-test does), so plugins and module_utils import as
they do at run time. Under ``ansible-test units`` the loader is already installed (and modules'
tests cannot import ``ansible.plugins``): nothing to do then."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if not any(type(finder).__name__ == "_AnsibleCollectionFinder" for finder in sys.meta_path):
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([os.path.join(ROOT, ".collections")])
