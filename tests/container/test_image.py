"""The container image as a user builds and runs it (tox -e container): built from the
Containerfile with podman, run against a real Orthanc, a render checked against dcmtk, a
thumbnail and /metrics fetched; then deploy/compose.yaml brought up as the README and
docs/containers.md say, an image loaded into its Orthanc and rendered through its wadofarm.

The README's container commands are run here (`docker compose` as podman-compose, `docker` as
podman). The images are built by the test first, with the host's CA bundle as pip's build
secret (podman-compose cannot pass one), and compose starts them as they are."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest

from bench.procs import free_port
from tests.support import badfiles
from tests.support.containers import Podman, containers_conf
from tests.support.docs import Command, Url, runnable
from tests.support.http import get, request
from tests.support.images import decode, psnr
from tests.support.oracle import dcmtk_render
from tests.support.orthanc import Orthanc
from tests.support.server import REPO
from tests.support.tools import require_program

pytestmark = pytest.mark.container

IMAGE = "localhost/wadofarm:test"  # kept between runs: podman's layer cache
ORTHANC_IMAGE = "localhost/wadofarm-orthanc:test"
READY_TIMEOUT = 120.0


def wait_ready(url: str, what: str, logs: object) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if get(url + "/readyz", timeout=5).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} never said ready:\n{logs() if callable(logs) else logs}")


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    require_program("podman")
    require_program("mmdebstrap")
    folder = tmp_path_factory.mktemp("podman")
    runner = Podman(containers_conf(folder), folder)
    took = runner.ensure_base()
    if took is not None:
        print(f"\nbase debian:bookworm-slim built with mmdebstrap in {took:.0f} s")
    return runner


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    # The build stage tagged too: its layers (the dependencies' wheels) stay cached for the
    # next run when the prune below drops what earlier builds left untagged.
    took = podman.build(f"{IMAGE}-build", REPO / "Containerfile", REPO, target="build")
    took += podman.build(IMAGE, REPO / "Containerfile", REPO)
    podman.prune()
    size = podman.size(IMAGE)
    print(f"\nwadofarm image built in {took:.0f} s, {size / 1e6:.0f} MB")
    inspected = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "wadofarm"
    assert config["Entrypoint"] == ["wadofarm", "serve"]
    healthcheck = inspected.get("Healthcheck") or config.get("Healthcheck") or {}
    assert "/healthz" in " ".join(healthcheck.get("Test", [])), inspected
    assert size < 1_000_000_000
    return IMAGE


@pytest.fixture(scope="module")
def orthanc_image(podman: Podman) -> str:
    podman.build(
        ORTHANC_IMAGE, REPO / "deploy" / "orthanc" / "Containerfile", REPO / "deploy" / "orthanc"
    )
    return ORTHANC_IMAGE


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    server = Orthanc(tmp_path / "orthanc").start()
    assert server.upload_bytes(badfiles.good())["HttpStatus"] == 200
    yield server
    server.stop()


def test_the_image_renders_from_a_real_orthanc(
    podman: Podman, image: str, orthanc: Orthanc, tmp_path: Path
) -> None:
    """wadofarm in its container (host network, loopback only) in front of Debian's Orthanc:
    the render is dcmtk's, the thumbnail and /metrics answer, it runs as its own user and its
    health check passes."""
    port = free_port()
    name = f"wadofarm-test-{port}"
    podman(
        "run", "-d", "--name", name, "--network", "host",
        "-e", "WADOFARM_HOST=127.0.0.1", "-e", f"WADOFARM_PORT={port}",
        "-e", f"WADOFARM_ORTHANC={orthanc.url}", "-e", "WADOFARM_WORKERS=1",
        image,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, "the container", lambda: podman("logs", name, check=False).stderr)
        data = badfiles.good()
        (tmp_path / "ct.dcm").write_bytes(data)
        ds = pydicom.dcmread(tmp_path / "ct.dcm")
        window = {"windowCenter": "100", "windowWidth": "1000"}
        render = get(
            url + "/wado",
            params={"requestType": "WADO", "objectUID": badfiles.GOOD_UID,
                    "contentType": "image/png", **window},
        )  # fmt: skip
        assert render.status == 200, render.text
        assert render.headers["content-type"] == "image/png"
        oracle = dcmtk_render(tmp_path / "ct.dcm", tmp_path / "oracle", args=("+Ww", "100", "1000"))
        assert oracle.image is not None, oracle.error
        assert psnr(decode(render.body), oracle.image) >= 45

        thumb = get(f"{url}/dicom-web/studies/{ds.StudyInstanceUID}/thumbnail")
        assert thumb.status == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert max(decode(thumb.body).shape[:2]) == 128 and np.ptp(decode(thumb.body)) > 50

        metrics = get(url + "/metrics").text
        renders = [
            line for line in metrics.splitlines() if line.startswith("wadofarm_renders_total")
        ]
        assert renders and float(renders[0].split()[-1]) >= 2, renders

        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        assert podman("healthcheck", "run", name, check=False).returncode == 0
    finally:
        podman("rm", "-f", name, check=False)


def _readme_container_commands() -> list[Command | Url]:
    """The README's container commands and the URLs shown after them."""
    items, inside = [], False
    for item in runnable(REPO / "README.md"):
        if isinstance(item, Command):
            inside = item.text.startswith(("docker ", "podman"))
            if inside:
                items.append(item)
        elif inside:
            items.append(item)
    return items


def as_podman(command: str, project: str) -> list[str]:
    """A README command for podman: `docker compose` is podman-compose (the images are built
    beforehand: podman-compose passes no build secret), `docker` is podman."""
    words = shlex.split(command)
    if words[:2] == ["docker", "compose"]:
        rest = [w for w in words[2:] if w != "--build"]
        return [require_program("podman-compose"), "-p", project, *rest]
    assert words[0] == "docker", command
    return ["podman", *words[1:]]


def test_compose_as_the_readme_and_the_docs_say(
    podman: Podman, image: str, orthanc_image: str, tmp_path: Path
) -> None:
    """`docker compose -f deploy/compose.yaml up -d` (podman-compose here), then what
    docs/containers.md says to do: load an image into Orthanc on 127.0.0.1:8042, list the
    studies through wadofarm, look at the rendered study and the gallery."""
    commands = _readme_container_commands()
    assert [c.text for c in commands if isinstance(c, Command)] == [
        "docker compose -f deploy/compose.yaml up -d --build"
    ]
    wadofarm_port, orthanc_port = free_port(), free_port()
    project = f"wadofarmtest{wadofarm_port}"
    env = {
        **podman.env,
        "WADOFARM_PUBLISH": f"127.0.0.1:{wadofarm_port}",
        "ORTHANC_PUBLISH": f"127.0.0.1:{orthanc_port}",
        "WADOFARM_IMAGE": image,
        "ORTHANC_IMAGE": orthanc_image,
    }
    wadofarm, orthanc = f"http://127.0.0.1:{wadofarm_port}", f"http://127.0.0.1:{orthanc_port}"
    compose = ["-f", "deploy/compose.yaml"]

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    def logs() -> str:
        return run(["podman", "logs", f"{project}_wadofarm_1"]).stderr[-3000:]

    try:
        for item in commands:
            if isinstance(item, Command):
                done = run(as_podman(item.text, project))
                assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
                wait_ready(wadofarm, "compose's wadofarm", logs)
            else:
                assert get(item.text.replace("http://127.0.0.1:8080", wadofarm)).status == 200
        # docs/containers.md: load an image into Orthanc, then look at it through wadofarm.
        stored = request(
            "POST", orthanc + "/instances", body=badfiles.good(),
            headers={"Content-Type": "application/dicom"},
        )  # fmt: skip
        assert stored.status == 200, stored.text
        studies = get(wadofarm + "/dicom-web/studies")
        assert studies.status == 200, studies.text
        study = json.loads(studies.body)[0]["0020000D"]["Value"][0]
        rendered = get(f"{wadofarm}/dicom-web/studies/{study}/rendered")
        assert rendered.status == 200 and rendered.headers["x-wadofarm-cache"] == "render"
        assert decode(rendered.body).shape[:2] == (128, 128)
        assert get(wadofarm + "/").status == 200
        refused = request("DELETE", f"{wadofarm}/instances/{json.loads(stored.body)['ID']}")
        assert refused.status == 403  # an Orthanc without users: reads only through wadofarm
    finally:
        run([require_program("podman-compose"), "-p", project, *compose, "down", "-v"])
        run(["podman", "network", "rm", "-f", f"{project}_default"])


def test_the_scale_out_recipe(
    podman: Podman, image: str, orthanc_image: str, tmp_path: Path
) -> None:
    """compose.yaml with compose.scale-out.yaml: nginx (Debian's, deploy/nginx/wadofarm.conf)
    balances two nodes sharing Debian's Redis; a render through nginx names its node."""
    deploy = REPO / "deploy"
    podman.build(
        "localhost/wadofarm-nginx:test", deploy / "nginx" / "Containerfile", deploy / "nginx"
    )
    podman.build(
        "localhost/wadofarm-redis:test", deploy / "redis" / "Containerfile", deploy / "redis"
    )
    for name in ("nginx", "redis"):  # the names compose.scale-out.yaml gives its images
        podman("tag", f"localhost/wadofarm-{name}:test", f"localhost/wadofarm-{name}")
    ports = {name: free_port() for name in ("WADOFARM", "ORTHANC", "NGINX")}
    project = f"wadofarmscale{ports['NGINX']}"
    env = {
        **podman.env,
        **{f"{name}_PUBLISH": f"127.0.0.1:{port}" for name, port in ports.items()},
        "WADOFARM_IMAGE": image,
        "ORTHANC_IMAGE": orthanc_image,
    }
    compose = [require_program("podman-compose"), "-p", project, "-f", "deploy/compose.yaml"]
    compose += ["-f", "deploy/compose.scale-out.yaml"]

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    try:
        done = run([*compose, "up", "-d"])
        assert done.returncode == 0, done.stderr[-3000:]
        node = f"http://127.0.0.1:{ports['WADOFARM']}"
        wait_ready(
            node, "the first node", lambda: run(["podman", "logs", f"{project}_wadofarm_1"]).stderr
        )
        stored = request(
            "POST", f"http://127.0.0.1:{ports['ORTHANC']}/instances", body=badfiles.good(),
            headers={"Content-Type": "application/dicom"},
        )  # fmt: skip
        assert stored.status == 200, stored.text
        nginx = f"http://127.0.0.1:{ports['NGINX']}"
        deadline = time.monotonic() + READY_TIMEOUT  # until nginx and the second node answer
        while True:
            try:
                reply = get(
                    nginx + "/wado", params={"requestType": "WADO", "objectUID": badfiles.GOOD_UID}
                )
                if reply.status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "nginx never passed a render"
            time.sleep(1)
        assert reply.headers["x-wadofarm-node"] in ("wadofarm-1", "wadofarm-2")
        assert decode(reply.body).shape[:2] == (128, 128)
        for name in ("wadofarm_1", "wadofarm-2_1"):
            assert (
                "shares renders through Redis at redis://redis:6379/0"
                in run(["podman", "logs", f"{project}_{name}"]).stderr
            )
    finally:
        run([*compose, "down", "-v"])
        run(["podman", "network", "rm", "-f", f"{project}_default"])
