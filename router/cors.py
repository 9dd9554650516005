"""CORS (the Fetch standard's CORS protocol) for browser viewers served from another origin:
preflight requests answered here, and every response to an allowed origin marked readable,
with the headers a viewer needs (ETag for revalidation) exposed. Off unless --cors-origin."""

from __future__ import annotations

from aiohttp import web

from router.errors import Handler

EXPOSED = "ETag, X-Wadofarm-Cache, Content-Length, Content-Type, Content-Location, Location"
METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS"  # the pass-through carries STOW and REST too
MAX_AGE = "600"  # seconds a browser may reuse a preflight answer


class Cors:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self.any = "*" in origins
        self.origins = frozenset(origins)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self.any or origin in self.origins)

    def mark(self, origin: str, headers: web.StreamResponse) -> None:
        response_headers = headers.headers
        response_headers["Access-Control-Allow-Origin"] = "*" if self.any else origin
        if not self.any:
            response_headers.add("Vary", "Origin")
        response_headers["Access-Control-Expose-Headers"] = EXPOSED

    @web.middleware
    async def preflight(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer a preflight (OPTIONS with Access-Control-Request-Method) without routing it."""
        origin = request.headers.get("Origin")
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return await handler(request)
        if not self.allows(origin):
            return web.Response(status=403, text="this origin is not allowed (--cors-origin)\n")
        response = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = METHODS
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            response.headers["Access-Control-Allow-Headers"] = asked
        response.headers["Access-Control-Max-Age"] = MAX_AGE
        return response

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Right before the headers go out, so streamed (proxied) responses are marked too."""
        origin = request.headers.get("Origin")
        if origin is not None and self.allows(origin):
            self.mark(origin, response)
