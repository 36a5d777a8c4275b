"""Runs the hpc.parallelcluster.pcluster inventory plugin the way the inventory manager does."""

import yaml
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader


def run_plugin(config_file, config, refresh=True):
    """Write ``config`` to ``config_file``, parse it with the real plugin and return the InventoryData."""
    config_file.write_text(yaml.safe_dump(config))
    inventory = InventoryData()
    plugin = inventory_loader.get("hpc.parallelcluster.pcluster")
    assert plugin.verify_file(str(config_file))
    # cache=False is what --flush-cache passes: ignore the cached data and write fresh data.
    plugin.parse(inventory, DataLoader(), str(config_file), cache=not refresh)
    # As the inventory manager does after parse: persist what the plugin put in its cache.
    if plugin.get_option("cache"):
        plugin.update_cache_if_changed()
    return inventory


def hosts_of(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts()) if group in inventory.groups else []
