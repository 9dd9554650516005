"""A real nginx (Debian's package) in front of wadofarm nodes, with the shipped
deploy/nginx/ configuration: only the listen address and the node addresses are replaced."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.tools import free_port, require_program

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "nginx"
NODE_LINE = re.compile(r"^server\s+\S+(?P<params>[^;]*);", re.MULTILINE)

MAIN_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/wadofarm.conf;
}}
"""


def site_conf(work: Path, port: int) -> str:
    """deploy/nginx/wadofarm.conf listening on a loopback port, including our node list."""
    text = (SHIPPED / "wadofarm.conf").read_text()
    swaps = {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "include /etc/nginx/wadofarm/wadofarm-nodes.conf;": f"include {work}/wadofarm-nodes.conf;",
    }
    for old, new in swaps.items():
        assert text.count(old) == 1, f"deploy/nginx/wadofarm.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


def nodes_conf(addresses: list[str]) -> str:
    """deploy/nginx/wadofarm-nodes.conf's server lines, with its health-check parameters, for
    our node addresses."""
    shipped = NODE_LINE.findall((SHIPPED / "wadofarm-nodes.conf").read_text())
    assert shipped, "deploy/nginx/wadofarm-nodes.conf lists no server"
    return "".join(f"server {address}{shipped[0]};\n" for address in addresses)


class Nginx:
    def __init__(self, workdir: Path, nodes: list[str]) -> None:
        self.workdir = workdir
        self.nodes = nodes  # host:port of each wadofarm node
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> Path:
        work = self.workdir
        work.mkdir(parents=True, exist_ok=True)
        (work / "wadofarm.conf").write_text(site_conf(work, self.port))
        (work / "wadofarm-nodes.conf").write_text(nodes_conf(self.nodes))
        main = work / "nginx.conf"
        main.write_text(MAIN_CONF.format(work=work))
        return main

    def command(self, *extra: str) -> list[str]:
        main = self.write_config()
        binary = require_program("nginx")
        return [binary, "-p", str(self.workdir), "-c", str(main), "-e", "stderr", *extra]

    def start(self, timeout: float = 10.0) -> Nginx:
        check = subprocess.run(self.command("-t"), capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t rejects the configuration: {check.stderr}")
        log = open(self.workdir / "nginx.out", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start in {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        parts = []
        for name in ("nginx.out", "error.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(parts)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown of master and workers
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
