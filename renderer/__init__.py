"""wadofarm's pixel side: DICOM bytes and render parameters in, image bytes out. No HTTP here."""
