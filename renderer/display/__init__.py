"""The display pipeline of PS3.4 N.2, one stage a module: Modality LUT, VOI LUT, presentation,
palettes, colour and ICC, overlays and shutters, a presentation state's values (gsps), and what a
render of one frame reads from the file's header (header)."""
