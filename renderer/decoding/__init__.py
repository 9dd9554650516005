"""DICOM bytes to attributes and the stored values of one frame: the lean Part 10 reader
(part10), pydicom's decoders (decode), reduced-resolution decodes (reduced), the value bits of
a pixel cell (stored)."""
