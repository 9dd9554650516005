"""podman for the container tests (tox -e container), with nothing from an image registry:

- the `debian:bookworm-slim` base is built with mmdebstrap from Debian's mirror (the minbase
  variant without documentation, manual pages and locales, as Docker's slim images are) when
  podman does not hold one, and kept in podman's storage for later runs on the machine;
- pip inside a build reaches PyPI itself; the host's CA bundle goes in as a build secret (for
  a proxy that intercepts TLS), never into a layer;
- podman runs with runc and explicit ulimits where the sandbox refuses its defaults, through a
  containers.conf of the test's own (CONTAINERS_CONF), never the machine's.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.tools import require_program

BASE = "docker.io/library/debian:bookworm-slim"
MIRROR = "http://deb.debian.org/debian"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SLIM = (  # what Docker's -slim images leave out
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)
ULIMIT = 16384  # files and processes: at most the host's own, which a container may not raise


def containers_conf(folder: Path) -> Path:
    """runc (crun refuses this sandbox's cgroups) and ulimits no higher than the host's."""
    limits = [
        min(ULIMIT, resource.getrlimit(kind)[0])
        for kind in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC)
    ]
    conf = folder / "containers.conf"
    conf.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={limits[0]}:{limits[0]}", "nproc={limits[1]}:{limits[1]}"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    return conf


@dataclass
class Podman:
    conf: Path
    workdir: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [require_program("podman"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.env,
        )
        if check:
            assert done.returncode == 0, f"podman {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done

    def ensure_base(self) -> float | None:
        """Build and import the base unless podman has it; the seconds it took, or None."""
        if self("image", "exists", BASE, check=False).returncode == 0:
            return None
        started = time.monotonic()
        tar = self.workdir / "bookworm-slim.tar"
        options = [f"--dpkgopt={option}" for option in SLIM]
        command = [require_program("mmdebstrap"), "--variant=minbase", "--mode=root"]
        done = subprocess.run(
            [*command, "--format=tar", *options, "bookworm", str(tar), MIRROR],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        self("import", "--change", 'CMD ["bash"]', str(tar), BASE, timeout=300)
        tar.unlink()
        return time.monotonic() - started

    def build(self, tag: str, containerfile: Path, context: Path, target: str = "") -> float:
        """`podman build` as a user would run it (docker format, for HEALTHCHECK), plus the
        host's CA bundle as pip's secret; the seconds it took."""
        secret = [f"--secret=id=pip_cert,src={CA_BUNDLE}"] if CA_BUNDLE.exists() else []
        started = time.monotonic()
        self(
            "build",
            "--format=docker",
            "--network=host",
            *secret,
            *([f"--target={target}"] if target else []),
            "-t",
            tag,
            "-f",
            str(containerfile),
            str(context),
            timeout=1800,
        )
        return time.monotonic() - started

    def size(self, tag: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())

    def prune(self) -> None:
        """Drop the images earlier builds left untagged (a rebuilt image's old layers), so that
        the cache kept between runs does not grow with every change of the code."""
        self("image", "prune", "--force", timeout=300)
