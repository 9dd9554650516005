"""wadofarm's pixel side: DICOM bytes and render parameters in, image bytes out. It serves no
HTTP and picks no HTTP status; its one HTTP client (files.http_client) fetches stored files.

One sub-package a stage, each importing only those below it: process (the pool, the wire, the
worker), then pipeline and presented (one render composed), objects, annotation, output, files,
display, decoding; params and errors are the values and failures both processes share."""
