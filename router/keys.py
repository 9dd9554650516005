"""Typed application state shared by the handlers."""

from __future__ import annotations

from aiohttp import web

from router.auth import Access
from router.config import Config
from router.sending import Sending
from router.service import RenderService

CONFIG = web.AppKey("config", Config)
SERVICE = web.AppKey("service", RenderService)
ACCESS = web.AppKey("access", Access)
SENDING = web.AppKey("sending", Sending)
