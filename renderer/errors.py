"""Why a render failed, in the renderer's own words; the router picks the HTTP status."""

from __future__ import annotations


class RenderError(Exception):
    """Base class. The message is a one-line reason fit to show a client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __reduce__(self) -> tuple[type[RenderError], tuple[str]]:
        # Crosses the process boundary by pickle: rebuild from the reason alone.
        return (type(self), (self.reason,))


class NotDicom(RenderError):
    """The stored bytes are not a DICOM file we can parse."""


class UnsupportedImage(RenderError):
    """A DICOM file whose pixels we cannot turn into an image."""


class ImageTooLarge(RenderError):
    """The header claims more pixels than the configured limit allows."""


class FrameOutOfRange(RenderError):
    """The requested frame does not exist in the object."""


class WorkerCrashed(RenderError):
    """The worker process died during the render."""


class RenderTimeout(RenderError):
    """The render ran past the per-render time limit and its worker was recycled."""


class PoolOverloaded(RenderError):
    """The render queue is full."""


class PoolClosed(RenderError):
    """The pool is shutting down."""


class OutputTooLarge(RenderError):
    """The requested output size is over the configured pixel limit."""


class SourceMissing(RenderError):
    """The store no longer has the file the worker was sent to fetch."""


class SourceUnavailable(RenderError):
    """The store could not be reached, refused us, or failed while the worker fetched."""


class SourceTimeout(RenderError):
    """The store did not answer the worker's fetch in time."""


class RegionOutOfRange(RenderError):
    """The requested pixel region (a DICOMweb viewport's sx,sy,sw,sh) lies outside the image."""


class SourceTooLarge(RenderError):
    """The object is larger than what the asked treatment (de-identification) takes."""


class WouldIdentify(RenderError):
    """A de-identified answer cannot be made honestly: its pixels may hold burned-in text, or
    the profile replaces the very content asked for."""


class NotOffered(RenderError):
    """The object cannot be had in the requested form (a PDF of a CT image, say)."""


class NotAPresentationState(RenderError):
    """presentationUID names an object that is not a Grayscale Softcopy Presentation State."""


class NotReferenced(RenderError):
    """The presentation state does not apply to the requested image (or frame)."""
