"""From display levels to the bytes sent: the size arithmetic (layout), resizing and flips
(geometry), the encoders (encode), the finish of pictures that are not images (picture), cine
timing (animation)."""
