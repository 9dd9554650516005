"""One render: DICOM bytes and parameters in, encoded image out. Pure and synchronous: a worker
process runs it, and so can a test or a benchmark, without any server."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

import numpy as np
from pydicom.dataset import Dataset

from renderer.annotation import labels
from renderer.decoding.decode import GRAYSCALE, PIXEL_DATA_TAGS
from renderer.display.color import render_color
from renderer.display.grayscale import render_grayscale
from renderer.display.gsps import referenced_image
from renderer.display.header import Header, describe
from renderer.display.icc import apply_icc
from renderer.display.overlay import burn
from renderer.display.supplemental import apply_supplemental
from renderer.errors import OutputTooLarge, WouldIdentify
from renderer.files import frames
from renderer.files.anonymize import check_pixels
from renderer.files.stored_file import StoredFile, fetched
from renderer.formats import Kind, OutputFormat, choose_output
from renderer.objects.kinds import kind_of
from renderer.objects.render import render_object
from renderer.objects.transcode import transcode
from renderer.output.animation import frame_delays
from renderer.output.encode import encode, encode_gif
from renderer.output.geometry import apply_flips, resize
from renderer.output.layout import Plan, layout
from renderer.params import (
    Answer,
    Deidentify,
    RenderParams,
    RenderResult,
    RenderSource,
    ShowsImage,
)
from renderer.presented import render_presented


def render_frame(
    file: StoredFile | None,
    header: Header,
    params: RenderParams,
    geometry: Plan,
    cached: frames.Decoded | None = None,
    key: Hashable | None = None,
) -> np.ndarray:
    """Frame `params.frame` to 8-bit gray or RGB pixels at the output size. `cached` is this
    frame decoded earlier (then `file` may be None); a full decode is kept under `key` for the
    next render."""
    overlays = header.overlays if params.overlays else ()
    if cached is not None:
        frame, photometric, crop = cached.frame, cached.photometric, geometry.crop
    else:
        assert file is not None
        # Overlays are drawn at full resolution: no reduced-resolution decode under them.
        reduce = params.reduced_decode and not overlays
        frame, photometric, crop = file.cells(header, params.frame, geometry, reduce)
    if photometric in GRAYSCALE and frame.ndim == 2:
        if cached is None and key is not None and crop == geometry.crop:
            _keep(key, header, frame, photometric)
        image = render_grayscale(header, params, photometric, frame, crop)
        if header.supplemental is not None:
            image = apply_supplemental(image, frame[crop], header.supplemental, header.info.stored)
    else:
        image = render_color(header.palette, header.info.stored, photometric, frame, crop)
        if header.icc is not None:
            image = apply_icc(image, header.icc)
    if overlays:
        image = burn(image, overlays, params.frame, frame, crop)
    return apply_flips(resize(image, geometry.width, geometry.height), params)


def render(source: RenderSource, params: RenderParams) -> Answer:
    """The render `params` ask of the stored file at `source`; for a presentation state asked
    for as an image, which image it shows (the router then renders that image through it)."""
    if params.anonymize is not None:  # overlays (60xx) are the profile's to remove
        params = dataclasses.replace(params, overlays=False)
    if params.presentation is not None:  # WADO-URI presentationUID: a path of its own
        return render_presented(source, params)
    if params.output is OutputFormat.DICOM:  # WADO-URI transferSyntax: the file, transcoded
        return transcoded(source, params)
    # An animation renders every frame from the file; the cache holds single frames. (WADO-URI
    # asks every request without a frameNumber to animate: only a GIF does.) A de-identified
    # render neither reads nor fills it: its header is not the stored one.
    gif_animation = params.animate and params.output.format.animated
    cacheable = (
        frames.CACHE.max_bytes
        and not gif_animation
        and params.output.is_picture
        and params.anonymize is None
    )
    key = frames.key_for(source, params.frame) if cacheable else None
    # Corner annotations read the whole header (names, numbers): from the file, not the cache.
    cached = frames.CACHE.get(key) if key is not None and not params.annotation else None
    file: StoredFile | None = None
    if cached is not None:  # decoded a moment ago by this worker: no fetch, no decode
        header = cached.header
    else:
        file = StoredFile(fetched(source, params.anonymize), params.anonymize)
        # The lean reader takes only plain images; otherwise pydicom says what the object is.
        kind = Kind.IMAGE if file.plain is not None else kind_of(file.dataset(), file.size)
        if params.anonymize is not None:
            refuse_identifying(kind, file.dataset(), params.anonymize)
        output = choose_output(kind, params.output, params.alternatives)
        if output is not params.output:  # the client's next choice
            params = dataclasses.replace(params, output=output, alternatives=())
            gif_animation = params.animate and output.format.animated
        if kind is Kind.NO_PIXELS:  # a presentation state shows its image (RenderService.render)
            # Named as stored (the router finds it by that UID), even when de-identifying.
            image_uid = referenced_image(file.stored_dataset())
            if image_uid is not None:
                return ShowsImage(image_uid)
        if kind is not Kind.IMAGE:
            return render_object(kind, file.dataset(), params)
        header = file.header(params.frame, params.max_pixels)
    info = header.info
    geometry = layout(info.rows, info.columns, params, info.pixel_aspect)
    animated = gif_animation and info.frames > 1
    count = info.frames if animated else 1
    if geometry.width * geometry.height * count > params.max_pixels:
        raise OutputTooLarge(
            f"output of {geometry.width}x{geometry.height}"
            + (f" x {count} frames" if count > 1 else "")
            + f" exceeds the limit of {params.max_pixels} pixels (--max-pixels)"
        )
    if animated:
        assert file is not None
        ds = file.dataset()
        # Only an enhanced object's header differs from frame to frame.
        per_frame = "PerFrameFunctionalGroupsSequence" in ds
        images = []
        for index in range(info.frames):
            frame_header = describe(ds, info, index) if per_frame else header
            frame_params = dataclasses.replace(params, frame=index)
            image = render_frame(file, frame_header, frame_params, geometry)
            images.append(labels.labelled(image, file, frame_header, frame_params))
        data = encode_gif(images, frame_delays(ds, info.frames))
    else:
        image = render_frame(file, header, params, geometry, cached, key)
        image = labels.labelled(image, file, header, params)
        data = encode(image, params.output, params.quality)
    return RenderResult(
        data=data,
        output=params.output,
        width=geometry.width,
        height=geometry.height,
        stored_rows=info.rows,
        stored_columns=info.columns,
        frames=info.frames,
        pixel_aspect=info.pixel_aspect,
        default_window=info.photometric in GRAYSCALE and header.voi is None,
    )


def transcoded(source: RenderSource, params: RenderParams) -> RenderResult:
    """The stored file in the transfer syntax asked (its own by default), de-identified first
    when asked (then always rewritten)."""
    file = StoredFile(fetched(source, params.anonymize), params.anonymize)
    ds = file.dataset()
    if params.anonymize is not None and any(tag in ds for tag in PIXEL_DATA_TAGS):
        check_pixels(ds, params.anonymize)
    target = params.transfer_syntax or str(ds.file_meta.TransferSyntaxUID)
    rewrite = params.anonymize is not None
    data = transcode(file.data, ds, target, params.max_pixels, rewrite=rewrite)
    return RenderResult(data, params.output, 0, 0, 0, 0, 1)


def refuse_identifying(kind: Kind, ds: Dataset, policy: Deidentify) -> None:
    """WouldIdentify for what a de-identified picture or document cannot honestly show: pixels
    that may hold burned-in text, an encapsulated document (the profile replaces its content,
    D)."""
    if kind in (Kind.IMAGE, Kind.VIDEO):
        check_pixels(ds, policy)
    elif kind is Kind.PDF:
        raise WouldIdentify(
            "anonymize=yes: PS3.15's Basic Profile replaces an encapsulated document's content "
            "(Encapsulated Document: D), so there is no document left to show"
        )


def _keep(key: Hashable, header: Header, frame: np.ndarray, photometric: str) -> None:
    """Cache a full grayscale decode (the window-drag case); read-only, so no stage can change
    what the next render of this frame starts from."""
    frame.flags.writeable = False
    frames.CACHE.put(key, frames.Decoded(header, frame, photometric, frames.measure(frame)))


__all__ = ["render"]
