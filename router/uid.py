"""DICOM UIDs (PS3.5 9.1): checked before they reach any store, so nothing odd reaches Orthanc."""

from __future__ import annotations

import re

from router.errors import InvalidRequest

MAX_LENGTH = 64
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_LENIENT = re.compile(r"[0-9]+(\.[0-9]+)*")  # leading zeros occur in the wild; accept them


def is_uid(value: str) -> bool:
    return len(value) <= MAX_LENGTH and _LENIENT.fullmatch(value) is not None


def check_uid(name: str, value: str) -> str:
    """Return the UID, or raise InvalidRequest naming the parameter and the rule it breaks."""
    if not value:
        raise InvalidRequest(f"{name} is empty")
    if len(value) > MAX_LENGTH:
        raise InvalidRequest(f"{name} is longer than {MAX_LENGTH} characters")
    if _LENIENT.fullmatch(value) is None:
        raise InvalidRequest(f"{name} is not a DICOM UID (digits separated by single dots)")
    return value
