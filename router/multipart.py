"""multipart/related bodies (RFC 2387), as DICOMweb answers a list of frames (PS3.18 8.7.3.3):
one part per rendered frame, in the order asked."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from router.cache import CachedRender


def related(parts: Sequence[CachedRender]) -> tuple[bytes, str, str]:
    """The body, its Content-Type and a strong ETag. The boundary is derived from the parts'
    ETags, so the same frames give the same bytes (and ETag) every time; it is hex, which no
    JPEG, PNG or GIF part needs to avoid by luck: a collision is checked, not assumed away."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.etag.encode())
    boundary = "wadofarm-" + digest.hexdigest()
    marker = b"--" + boundary.encode()
    bodies = [bytes(part.body) for part in parts]
    if any(marker in body for body in bodies):  # astronomically unlikely; say so if seen
        raise ValueError("a part contains the multipart boundary")
    chunks: list[bytes] = []
    for part, body in zip(parts, bodies, strict=True):
        chunks += [marker, b"\r\nContent-Type: ", part.media_type.encode(), b"\r\n\r\n"]
        chunks += [body, b"\r\n"]
    chunks += [marker, b"--\r\n"]
    media = parts[0].media_type if parts else "application/octet-stream"
    content_type = f'multipart/related; type="{media}"; boundary={boundary}'
    return b"".join(chunks), content_type, f'"{digest.hexdigest()}"'


__all__ = ["related"]
