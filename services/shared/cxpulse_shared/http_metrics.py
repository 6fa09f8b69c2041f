"""Counts every HTTP request by route template and status, without BaseHTTPMiddleware's overhead."""

from __future__ import annotations

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestCounter:
    def __init__(self, app: ASGIApp, *, counter: Counter) -> None:
        self._app = app
        self._counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, remember_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self._counter.labels(template, str(status)).inc()
