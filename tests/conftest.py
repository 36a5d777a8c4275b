"""Make this checkout importable as ``ansible_collections.hpc.parallelcluster`` for pytest, through
ansible's own collection loader (the way ansible-test does), so plugins and module_utils import as
they do at run time."""
import os

from ansible.plugins.loader import init_plugin_loader

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
init_plugin_loader([os.path.join(ROOT, ".collections")])
