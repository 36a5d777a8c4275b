"""moto's EC2 instance type offerings, each region's read when a request first needs it.

moto reads the offerings of every region and location type (90 compressed JSON files) when its EC2
models are imported: about 44 MiB of the emulator's memory and several seconds of its first EC2
request, for the one or two regions a deployment uses. ``install()``, called before moto's EC2
models are imported, leaves every region's file where it is and reads it on first use, so what
any region answers is unchanged.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from importlib import resources

OFFERINGS = "ec2/resources/instance_type_offerings"


class LazyOfferings(dict):
    """The offerings of one location type, by region, as moto's own dict; a region's file is read
    the first time the region is looked up, and listing the regions reads them all."""

    def __init__(self, location_type, files, load_resource):
        super().__init__()
        self.location_type = location_type
        self.files = dict(files)
        self.load_resource = load_resource

    def __missing__(self, region):
        if region not in self.files:
            raise KeyError(region)
        offerings = self.load_resource(self.files[region])
        for offering in offerings:
            offering["LocationType"] = self.location_type
        super().__setitem__(region, offerings)
        return offerings

    # Only __missing__ stores a region, and only one of self.files: the files are the regions.
    def get(self, region, default=None):
        return self[region] if region in self.files else default

    def __contains__(self, region):
        return region in self.files

    def __len__(self):
        return len(self.files)

    def _load_all(self):
        for region in self.files:
            self[region]  # pylint: disable=pointless-statement

    def __iter__(self):
        self._load_all()
        return super().__iter__()

    def keys(self):
        self._load_all()
        return super().keys()

    def values(self):
        self._load_all()
        return super().values()

    def items(self):
        self._load_all()
        return super().items()


MODULE = "moto.ec2.models.instance_types"


class _OfferingsLoader(importlib.abc.Loader):
    """Runs moto's instance type module with its offerings left unread, then gives it lazy ones."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        from moto.utilities import utils

        load_resource = utils.load_resource
        utils.load_resource = lambda resource: [] if resource.startswith(OFFERINGS + "/") else load_resource(resource)
        try:
            self.loader.exec_module(module)
        finally:
            utils.load_resource = load_resource
        module.load_resource = load_resource
        root = resources.files("moto") / OFFERINGS
        for location_type in list(module.INSTANCE_TYPE_OFFERINGS):
            files = {entry.name.split(".")[0]: "%s/%s/%s" % (OFFERINGS, location_type, entry.name)
                     for entry in (root / location_type).iterdir()}
            module.INSTANCE_TYPE_OFFERINGS[location_type] = LazyOfferings(location_type, files, load_resource)


class _OfferingsFinder(importlib.abc.MetaPathFinder):
    """Finds moto's instance type module as the path finder does, with the loader above."""

    def find_spec(self, fullname, path, target=None):
        if fullname != MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None:
            spec.loader = _OfferingsLoader(spec.loader)
        return spec


def install():
    """From now on, moto's EC2 models (imported with the first EC2 request) read offerings lazily."""
    if MODULE in sys.modules:
        raise RuntimeError("%s is already imported: install() must come first" % MODULE)
    sys.meta_path.insert(0, _OfferingsFinder())
