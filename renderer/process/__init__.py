"""The process boundary: the router's pool of render workers (pool), the messages on each
worker's socketpair (wire) and the worker's own loop (worker)."""
