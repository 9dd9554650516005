"""Text and graphics burned into the output image after scaling: the WADO-URI corner
annotations (labels) and a presentation state's graphic annotations (annotate), in the fonts of
fonts."""
