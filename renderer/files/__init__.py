"""The stored file a render reads: fetched from the store over HTTP (http_client) or opened by
path (local_file), read once (stored_file; de-identified by anonymize when asked), and each
worker's cache of decoded frames (frames)."""
