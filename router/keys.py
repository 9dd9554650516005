"""Typed application state shared by the handlers: every key of the app, in one place. The types
are imported for the type checker only, so any module may import its keys from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from router.auth import Access
    from router.config import Config
    from router.metrics import Metrics
    from router.place import Place
    from router.proxy import Proxy
    from router.representatives import Representatives
    from router.sending import Sending
    from router.service import RenderService
    from router.stores import Client

CONFIG: web.AppKey[Config] = web.AppKey("config")
SERVICE: web.AppKey[RenderService] = web.AppKey("service")
ACCESS: web.AppKey[Access] = web.AppKey("access")
PLACE: web.AppKey[Place] = web.AppKey("place")  # which of the routers on the port this is
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
PROXY: web.AppKey[Proxy] = web.AppKey("proxy")  # the pass-through to Orthanc, when it is on
REPRESENTATIVES: web.AppKey[Representatives] = web.AppKey("representatives")
# Large answers' bytes held for slow clients, shared by every connection (router.sending).
SENDING: web.AppKey[Sending] = web.AppKey("sending")
# Whom this request's store calls are made for (--auth forward: router.auth.client_of).
CLIENT: web.RequestKey[Client] = web.RequestKey("client")
