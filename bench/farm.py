"""A wadofarm farm on loopback: nginx with deploy/nginx's configuration in front of N nodes, and
redis-server with deploy/redis's, as real foreground processes on free ports, each stopped by its
PID. Only what a test machine must change is changed: the listen address, the node list, the
log paths, and (for the round-robin comparison) the hash line. The scale bench and the farm
tests both use it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.procs import REPO, SetupError, _stop, free_port

DEPLOY = REPO / "deploy"
BALANCES = ("consistent", "round_robin")
HASH_LINE = "hash $wadofarm_route consistent;"
NODES_INCLUDE = "include /etc/nginx/wadofarm/wadofarm-nodes.conf;"
LISTEN = "listen 80;"
ACCESS_LOG = "access_log /var/log/nginx/wadofarm-access.log wadofarm"
NODE_LINE = re.compile(r"^server\s+[^\s;]+(?P<params>[^;]*);", re.MULTILINE)
LOG_FIELDS = re.compile(r"node=(?P<node>\S*) cache=(?P<cache>\S*)")

MAIN_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log notice;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/wadofarm.conf;
}}
"""


def program(name: str) -> str | None:
    """A program on PATH, or in /usr/sbin where Debian puts daemons (not on every PATH)."""
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise SetupError(f"deploy/nginx/wadofarm.conf no longer has exactly one {old!r}")
    return text.replace(old, new)


def site_conf(work: Path, port: int, balance: str = "consistent") -> str:
    """deploy/nginx/wadofarm.conf on a loopback port, with our node list and log. Round robin
    is the same file without its hash line: nginx's default balancing."""
    text = (DEPLOY / "nginx" / "wadofarm.conf").read_text()
    text = _replace_once(text, LISTEN, f"listen 127.0.0.1:{port};")
    text = _replace_once(text, NODES_INCLUDE, f"include {work}/wadofarm-nodes.conf;")
    text = _replace_once(text, ACCESS_LOG, f"access_log {work}/access.log wadofarm")
    if balance == "round_robin":
        text = _replace_once(text, HASH_LINE, "# round robin: no hash")
    elif balance != "consistent":
        raise ValueError(f"balance must be one of {BALANCES}")
    return text


def nodes_conf(addresses: list[str]) -> str:
    """deploy/nginx/wadofarm-nodes.conf's server lines, with its health-check parameters, for
    these node addresses."""
    shipped = NODE_LINE.findall((DEPLOY / "nginx" / "wadofarm-nodes.conf").read_text())
    if not shipped:
        raise SetupError("deploy/nginx/wadofarm-nodes.conf lists no server")
    return "".join(f"server {address}{shipped[0]};\n" for address in addresses)


@dataclass(frozen=True, slots=True)
class Served:
    """Who answered the requests logged by nginx, and from which cache."""

    nodes: Counter[str]  # X-Wadofarm-Node
    caches: Counter[str]  # X-Wadofarm-Cache: L1, L2, render ("-" for errors)


class Nginx:
    def __init__(
        self, workdir: Path, nodes: list[str], *, balance: str = "consistent", binary: str = ""
    ) -> None:
        self.workdir = workdir
        self.nodes = nodes  # host:port of each wadofarm node
        self.balance = balance
        self.binary = binary or program("nginx") or ""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = workdir / "access.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self, *extra: str) -> list[str]:
        if not self.binary:
            raise SetupError("nginx is not installed (apt-get install nginx)")
        work = self.workdir
        work.mkdir(parents=True, exist_ok=True)
        (work / "wadofarm.conf").write_text(site_conf(work, self.port, self.balance))
        (work / "wadofarm-nodes.conf").write_text(nodes_conf(self.nodes))
        main = work / "nginx.conf"
        main.write_text(MAIN_CONF.format(work=work))
        return [self.binary, "-p", str(work), "-c", str(main), "-e", "stderr", *extra]

    def start(self, timeout: float = 10.0) -> Nginx:
        check = subprocess.run(self.command("-t"), capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise SetupError(f"nginx -t rejects the configuration: {check.stderr}")
        with open(self.workdir / "nginx.out", "ab") as out:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SetupError(f"nginx exited: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise SetupError(f"nginx did not start in {timeout:g}s: {self.log_tail()}")

    def log_size(self) -> int:
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def served(self, since: int = 0) -> Served:
        """Tally the access log from byte `since` on. nginx flushes it every second."""
        nodes: Counter[str] = Counter()
        caches: Counter[str] = Counter()
        if self.access_log.exists():
            with open(self.access_log, "rb") as log:
                log.seek(since)
                for line in log.read().decode(errors="replace").splitlines():
                    fields = LOG_FIELDS.search(line)
                    if fields is not None:
                        nodes[fields["node"]] += 1
                        caches[fields["cache"]] += 1
        return Served(nodes, caches)

    def log_tail(self) -> str:
        parts = []
        for name in ("nginx.out", "error.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(parts)

    def stop(self) -> None:
        _stop(self.process, 10.0)
        self.process = None


class RedisServer:
    """redis-server with deploy/redis/wadofarm-redis.conf (its maxmemory-policy and no
    persistence); the port, bind address, folder and size are set on the command line."""

    def __init__(
        self,
        workdir: Path,
        *,
        maxmemory: str = "64mb",
        port: int | None = None,
        binary: str = "",
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.maxmemory = maxmemory
        self.binary = binary or program("redis-server") or ""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 10.0) -> RedisServer:
        if not self.binary:
            raise SetupError("redis-server is not installed (apt-get install redis-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            self.binary,
            str(DEPLOY / "redis" / "wadofarm-redis.conf"),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)),
            *("--maxmemory", self.maxmemory, "--daemonize", "no", "--logfile", ""),
        ]
        with open(self.workdir / "redis.log", "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SetupError(f"redis-server exited: {self.log_tail()}")
            if self.ping():
                return self
            time.sleep(0.05)
        raise SetupError(f"redis-server did not start in {timeout:g}s: {self.log_tail()}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log_tail(self) -> str:
        path = self.workdir / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)

    def kill(self) -> None:
        """Gone at once, mid-request, as a crashed or OOM-killed Redis is."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)
            self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # in case it was left paused
        _stop(self.process, 10.0)
        self.process = None
