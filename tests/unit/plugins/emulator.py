"""A private AWS API emulator (moto server) for tests, on a port of its own (5150-5159)."""

import contextlib
import socket

from moto.server import ThreadedMotoServer

PORTS = range(5150, 5160)


def _free(port):
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@contextlib.contextmanager
def moto_endpoint():
    """Yield the URL of a moto server started for the caller and stopped afterwards."""
    port = next((p for p in PORTS if _free(p)), None)
    if port is None:
        raise RuntimeError("no free port in 5150-5159 for the AWS API emulator")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield "http://127.0.0.1:%d" % port
    finally:
        server.stop()
