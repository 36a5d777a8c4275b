"""A private AWS API emulator (moto server) for tests, on a port of its own (5150-5159).

Like the local provider's emulator, it answers the AWS Price List API and EC2's spot price history
from roles/local_cloud/files/price_table.json (price_list_api.py), which moto lacks.

HPC_TEST_EMULATOR_PORTS (``first-last``) moves the range, for a machine where those ports are taken.
"""

import contextlib
import importlib.util
import os
import socket
import threading

from moto.core.base_backend import BackendDict
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


LOCAL_CLOUD_FILES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "local_cloud", "files")


def local_cloud_module(name):
    """A module of the local emulator's program (a role file, not an importable package)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(LOCAL_CLOUD_FILES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def price_list_api():
    """The local emulator's price middleware module."""
    return local_cloud_module("price_list_api")


def _ports():
    first, dummy, last = os.environ.get("HPC_TEST_EMULATOR_PORTS", "5150-5159").partition("-")
    return range(int(first), int(last or first) + 1)


@contextlib.contextmanager
def moto_endpoint():
    """Yield the URL of a moto server (an empty account) started for the caller and stopped afterwards.

    The port is bound here, in the caller's thread, taking the first of the range that binds:
    moto's ThreadedMotoServer binds in its own thread and waits forever when that fails, which
    happened when two test workers chose the same free port at once.
    """
    ports = _ports()
    listener = None
    for port in ports:
        candidate = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        candidate.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            candidate.bind(("127.0.0.1", port))
            candidate.listen(128)
        except OSError:
            candidate.close()
            continue
        listener = candidate
        break
    if listener is None:
        raise RuntimeError("no free port in %d-%d for the AWS API emulator" % (ports[0], ports[-1]))
    # Each server is a fresh account: moto keeps its state per process, and a test before this one
    # (its own server) may have left instances or buckets there.
    BackendDict.reset()
    # werkzeug takes the bound socket (make_server's fd): a port taken meanwhile cannot make it exit.
    with listener:
        app = price_list_api().PriceListApi(DomainDispatcherApplication(create_backend_app))
        server = make_server("127.0.0.1", port, app, True,
                             request_handler=MotoRequestHandler, fd=listener.fileno())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        BackendDict.reset()


@contextlib.contextmanager
def official_images_published(region, images):
    """ParallelCluster's official images (DescribeImages items, owner amazon) in the emulator's
    ``region``, as every AWS region publishes them; removed afterwards. The server runs in this
    process, so its EC2 backend is reached directly: moto has no API that makes an image of amazon's."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami

    class PublishedImage(Ami):
        """moto's image with the root volume of the table (moto's own always says 15 GiB)."""

        __module__ = "moto.ec2.models.amis"  # moto's model registry files a model under its service

        def __init__(self, item):
            super().__init__(backend, ami_id=item["ImageId"], name=item["Name"], description=item["Description"],
                             owner_id="amazon", owner_alias="amazon", public=True, architecture=item["Architecture"],
                             virtualization_type=item["VirtualizationType"], root_device_type=item["RootDeviceType"],
                             root_device_name=item["RootDeviceName"])
            self.mappings = item["BlockDeviceMappings"]

        @property
        def block_device_mappings(self):
            return [dict(m, Ebs=dict(m["Ebs"], SnapshotId=self.ebs_snapshot.id)) for m in self.mappings]

    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    for image in images:
        backend.amis[image["ImageId"]] = PublishedImage(image)
    try:
        yield backend
    finally:
        for image in images:
            backend.amis.pop(image["ImageId"], None)


@contextlib.contextmanager
def aws_managed_policies_loaded():
    """The emulator's IAM with AWS's managed policies, which every account has (moto loads them only
    when asked); back to moto's default afterwards."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    before = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    iam_backends[DEFAULT_ACCOUNT_ID]["global"].reset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = before
        iam_backends[DEFAULT_ACCOUNT_ID]["global"].reset()
