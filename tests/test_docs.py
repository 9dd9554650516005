"""The documentation as a new user meets it: the README is a short landing page, the settings
table is the one made from router/config.py, and every shell command and local URL that the
README and the getting-started page show is run, in order, in a clean copy of the source tree
with a fresh virtual environment and fresh servers on free ports (the container commands by
tests/container/, the test command by CI itself)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.procs import free_port, http_request
from router.cli import settings_table
from router.config import SPECS
from tests.support.docs import CONFIGURATION, Command, Url, runnable, settings_block
from tests.support.orthanc import Orthanc
from tests.support.server import REPO

README = REPO / "README.md"
GETTING_STARTED = REPO / "docs" / "getting-started.md"
PAGES = (README, GETTING_STARTED)
TEST_COMMAND = "bash .ci/run"  # what CI runs; running it here would run this test again
INSTALL_TIMEOUT = 900  # seconds: a fresh venv's `pip install .` fetches every wheel once
SERVE_TIMEOUT = 120  # seconds for a server to say ready (its render workers start first)


def test_the_readme_is_a_landing_page() -> None:
    assert len(README.read_text().splitlines()) <= 150


def test_the_settings_table_is_made_from_the_definitions() -> None:
    table = settings_block(CONFIGURATION.read_text())
    assert table == settings_table(), (
        "docs/configuration.md's settings table is stale: run `python -m tests.support.docs`"
    )
    assert all(f"`{spec.env}`" in table and spec.flag in table for spec in SPECS)


def is_container(command: str) -> bool:
    return command.startswith(("docker ", "podman"))


def test_every_command_of_the_two_pages_is_run_somewhere() -> None:
    """Each command is run by test_the_pages_run_as_shown, by tests/container (docker), or is
    the test command CI runs: none is shown and never run."""
    for page in PAGES:
        commands = [item.text for item in runnable(page) if isinstance(item, Command)]
        assert commands, page
        for command in commands:
            if command == TEST_COMMAND:
                assert (REPO / ".ci" / "run").exists()
                continue
            assert not command.startswith("sudo "), command


def _source_copy(target: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored) in a clean folder."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


class Page:
    """A page's commands run in one clean source copy, as a new user would type them."""

    def __init__(self, src: Path, orthancs: Path) -> None:
        self.src = src
        self.orthancs = orthancs
        self.server: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.orthanc: Orthanc | None = None
        self.environ = {k: v for k, v in os.environ.items() if not k.startswith("WADOFARM_")}
        self.environ.pop("VIRTUAL_ENV", None)
        # `python3` is a Python >= 3.11 with venv: the one running the tests.
        self.environ["PATH"] = f"{Path(sys.executable).parent}:{self.environ['PATH']}"
        self.environ.pop("PYTHONPATH", None)

    def shell(self, command: str) -> list[str]:
        """bash in the copy, inside .venv once a command has made it."""
        activate = "if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi"
        return ["bash", "-c", f"set -e; {activate}; {command}"]

    def run(self, command: str) -> None:
        if " serve" in command and "--check-config" not in command:
            self.serve(command)
            return
        done = subprocess.run(
            self.shell(command),
            cwd=self.src,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"

    def serve(self, command: str) -> None:
        """A server command runs in the background on a free port, the drop-in's against a
        real Orthanc of the kind it names, until the page's next server or its end."""
        self.stop()
        self.port = free_port()
        command = command.replace("--host 0.0.0.0", "--host 127.0.0.1")  # loopback only here
        if "--orthanc http://127.0.0.1:8042" in command:
            user = re.search(r"--orthanc-user (\S+)", command)
            password = re.search(r"WADOFARM_ORTHANC_PASSWORD=(\S+)", command)
            users = {user.group(1): password.group(1)} if user and password else None
            self.orthanc = Orthanc(self.orthancs / str(self.port), users=users).start()
            command = command.replace("http://127.0.0.1:8042", self.orthanc.url)
        log = open(self.src / f"serve-{self.port}.log", "wb")  # noqa: SIM115 (kept open)
        self.server = subprocess.Popen(
            self.shell(f"{command} --port {self.port}"),
            cwd=self.src,
            env=self.environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + INSTALL_TIMEOUT + SERVE_TIMEOUT
        while True:
            assert self.server.poll() is None, f"{command} stopped:\n{self.log_tail()}"
            try:
                if http_request("GET", self.url("/readyz"), timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{command} never ready:\n{self.log_tail()}"
            time.sleep(0.5)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_tail(self) -> str:
        return (self.src / f"serve-{self.port}.log").read_text(errors="replace")[-3000:]

    def fetch(self, url: str) -> None:
        assert self.server is not None, f"{url} is shown before any server command"
        path = url.removeprefix("http://127.0.0.1:8080")
        status, body = http_request("GET", self.url(path), timeout=60)
        assert status == 200, (url, status, body[:300])
        assert body, url

    def stop(self) -> None:
        if self.server is not None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()
            self.server = None
        if self.orthanc is not None:
            self.orthanc.stop()
            self.orthanc = None


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield _source_copy(tmp_path_factory.mktemp("fresh-clone"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_pages_run_as_shown(page: Path, source: Path, tmp_path: Path) -> None:
    """README first (it makes the venv), then getting started, in one source copy: every
    command succeeds, every server says ready, every local URL answers 200 from the server
    started before it."""
    runner = Page(source, tmp_path)
    containers = False  # URLs after a container command are tests/container's to fetch
    try:
        for item in runnable(page):
            if isinstance(item, Command):
                if item.text == TEST_COMMAND:
                    continue
                containers = is_container(item.text)
                if not containers:
                    runner.run(item.text)
            elif isinstance(item, Url) and not containers:
                runner.fetch(item.text)
    finally:
        runner.stop()
