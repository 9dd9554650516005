"""The parts of a multipart/related answer (PS3.18 8.6.1.2), for comparing WADO-RS bodies whose
boundaries differ from one answer to the next."""

from __future__ import annotations


def boundary(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    raise ValueError(f"no boundary in {content_type!r}")


def parts(content_type: str, body: bytes) -> list[bytes]:
    """Each part's body, without its headers."""
    delimiter = b"--" + boundary(content_type).encode()
    found = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):  # the close delimiter
            break
        _, _, payload = chunk.partition(b"\r\n\r\n")
        found.append(payload.removesuffix(b"\r\n"))
    return found
