"""Whether the server can listen where it is told to, asked before anything starts: a taken
port, a privileged one or an address the machine does not have is one line and exit status 1,
with one router or several, not a traceback after the render workers have started."""

from __future__ import annotations

import errno
import socket


class PortUnavailable(Exception):
    """The server cannot listen at --host:--port; the message says why and what to do."""


def where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def answers(host: str, port: int) -> bool:
    """A connection to the port is accepted (the wildcard addresses are tried on loopback)."""
    target = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=1.0):
            return True
    except OSError:
        return False


def why(error: OSError, host: str, port: int) -> str:
    """A failed bind in words, with what to do about it."""
    if isinstance(error, socket.gaierror):
        return f"cannot listen on {host}: no address of this machine has that name (--host)"
    if error.errno == errno.EADDRINUSE:
        return taken(host, port)
    if error.errno == errno.EACCES:
        return (
            f"cannot listen on {where(host, port)}: ports below 1024 need privileges; choose "
            "--port 1024 or above (8080 is the default)"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {where(host, port)}: this machine has no such address; --host "
            "takes one of its own addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every "
            "address)"
        )
    reason = error.strerror or "the operating system refused"
    return f"cannot listen on {where(host, port)}: {reason[:1].lower()}{reason[1:]}"


def taken(host: str, port: int) -> str:
    return (
        f"cannot listen on {where(host, port)}: another program already listens there; stop "
        "it, or choose another port with --port (or WADOFARM_PORT)"
    )


def check(host: str, port: int) -> None:
    """Raise PortUnavailable unless a server could listen at host:port now. Port 0 (any free
    one) always can."""
    if port == 0:
        return
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
    except OSError as error:
        raise PortUnavailable(why(error, host, port)) from None
    # Bound, so the address is this machine's: is a server that shares ports (SO_REUSEPORT,
    # another wadofarm) listening there anyway?
    if answers(host, port):
        raise PortUnavailable(taken(host, port))
