# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An instance's network: a veth pair from a bridge (on this machine or in a named network
namespace) into the instance's own network namespace, with a static address.

Only argument lists and checks here; the launcher runs them. Every name given by a caller is
checked before it reaches a command line.
"""

from __future__ import annotations

import ipaddress
import re

_LINK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_NETNS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOSTNAME = re.compile(r"^(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
INSIDE_NAME = "eth0"


class NetworkError(ValueError):
    """A network option that cannot be used; the message names the option and the fix."""


def check_link(value, option="bridge"):
    if not isinstance(value, str) or not _LINK.match(value):
        raise NetworkError("%s %r is not a network link name (1 to 15 letters, digits, '_', '.' or '-')" % (option, value))
    return value


def check_netns(value):
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _NETNS.match(value):
        raise NetworkError("bridge_netns %r is not a network namespace name (letters, digits, '_', '.' or '-')"
                           % (value,))
    return value


def check_hostname(value):
    if not isinstance(value, str) or not _HOSTNAME.match(value):
        raise NetworkError("hostname %r is not a host name (lower-case letters, digits and '-', at most 63)" % (value,))
    return value


def check_address(address, gateway=None):
    """(interface, gateway or None) from ``address`` (``10.0.0.5/24``) and ``gateway``."""
    try:
        if "/" not in str(address):
            raise ValueError(address)
        interface = ipaddress.ip_interface(address)
    except ValueError:
        raise NetworkError("address %r is not an address with its prefix length, like 10.0.0.5/24" % (address,))
    if interface.version != 4 or interface.network.prefixlen >= 31 or interface.ip in (
            interface.network.network_address, interface.network.broadcast_address):
        raise NetworkError("address %s is not a host address of an IPv4 network with room for a gateway" % address)
    if gateway in (None, ""):
        return interface, None
    try:
        gw = ipaddress.ip_address(gateway)
    except ValueError:
        raise NetworkError("gateway %r is not an IPv4 address" % (gateway,))
    if gw not in interface.network or gw == interface.ip:
        raise NetworkError("gateway %s is not another address of %s" % (gw, interface.network))
    return interface, gw


def host_link_name(instance_id):
    """The bridge side of an instance's veth: ``v`` and the first 14 digits of its id (15 characters)."""
    return "v" + instance_id[2:16]


def _ip(netns):
    return ["ip"] + (["-n", netns] if netns else [])


def bridge_show_argv(bridge, netns):
    return _ip(netns) + ["-j", "-d", "link", "show", "dev", bridge]


def veth_add_argv(host_link, pid, netns):
    """A veth pair whose bridge end is in ``netns`` (or here) and whose other end is ``eth0`` in the
    network namespace of the process ``pid``."""
    return _ip(netns) + ["link", "add", host_link, "type", "veth", "peer", "name", INSIDE_NAME, "netns", str(pid)]


def veth_attach_argv(host_link, bridge, netns):
    return _ip(netns) + ["link", "set", "dev", host_link, "master", bridge, "up"]


def link_delete_argv(host_link, netns):
    return _ip(netns) + ["link", "delete", "dev", host_link]


def link_show_argv(host_link, netns):
    return _ip(netns) + ["-j", "link", "show", "dev", host_link]
