"""ICC profiles of colour images (PS3.3 C.11.15 ICC Profile Module): the rendered RGB is taken
from the device space the file's (0028,2000) ICC Profile describes to sRGB, through Pillow's
ImageCms (littleCMS), perceptual intent. A file with no profile is taken as sRGB already (its
(0028,2002) Color Space, where present, names a space without giving its profile: it is shown
as it is). Transforms are built once per distinct profile in each worker."""

from __future__ import annotations

import functools
import io
import logging

import numpy as np
from PIL import Image, ImageCms

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def to_srgb(profile: bytes) -> ImageCms.ImageCmsTransform | None:
    """The transform from `profile` to sRGB, None when the profile is unusable."""
    try:
        device = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.buildTransform(
            device, ImageCms.createProfile("sRGB"), "RGB", "RGB", ImageCms.Intent.PERCEPTUAL
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        logger.warning("ignoring an unusable ICC profile: %s", exc)
        return None


def apply_icc(rgb: np.ndarray, profile: bytes) -> np.ndarray:
    """8-bit RGB in the profile's space to 8-bit sRGB (a new array); unchanged if the profile
    cannot be used."""
    transform = to_srgb(profile)
    if transform is None:
        return rgb
    picture = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    return np.asarray(ImageCms.applyTransform(picture, transform))


__all__ = ["apply_icc"]
