"""The server side of ``bench/api.py``, run as its own process.

Two modes, both served by the product's own uvicorn settings
(``app.server.uvicorn_server``: h11/asyncio as installed, no access log):

``product``  the real ``Server`` (database, service, runner, API with its
             bearer-auth middleware) on ``--db``, plus one bench-only route
             ``GET /api/bench/prebuilt`` that goes through the same middleware
             and router and answers a copy of the ``GET /api/agents`` body
             taken at start-up: the same bytes, never rebuilt.
``plain``    a bare Starlette app: ``GET /prebuilt`` answers the bytes of
             ``--body-file``; ``GET /trivial`` answers ``ok``.

Prints ``READY <port>`` on stdout once listening; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.server import ServerConfig, running, uvicorn_server, wait_until_started


async def serve_until_stopped(app: object, port: int) -> None:
    """Serve ``app`` on 127.0.0.1:``port``, print ``READY <port>`` once listening, end on SIGTERM/SIGINT."""
    web = uvicorn_server(app, "127.0.0.1", port, log_to_stderr=False)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        web.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    task = asyncio.create_task(web.serve())
    await wait_until_started(web)
    print(f"READY {port}", flush=True)
    await task


async def product(args: argparse.Namespace) -> None:
    cfg = ServerConfig(db_path=Path(args.db), run_scheduler=False, stats_zone="UTC", default_timezone="UTC")
    async with running(cfg) as server:
        prebuilt = bytes(await server.service.list_agents_body())

        async def prebuilt_route(request: Request) -> Response:
            return Response(prebuilt, media_type="application/json")

        # Under /api, so it passes the same bearer-auth middleware and router.
        server.app.router.routes.insert(0, Route("/api/bench/prebuilt", prebuilt_route))
        await serve_until_stopped(server.app, args.port)


async def plain(args: argparse.Namespace) -> None:
    body = Path(args.body_file).read_bytes() if args.body_file else b"{}"

    async def prebuilt_route(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def trivial(request: Request) -> Response:
        return Response(b"ok", media_type="text/plain")

    app = Starlette(routes=[Route("/prebuilt", prebuilt_route), Route("/trivial", trivial)])
    await serve_until_stopped(app, args.port)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["product", "plain"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db")
    p.add_argument("--body-file")
    args = p.parse_args()
    asyncio.run(product(args) if args.mode == "product" else plain(args))


if __name__ == "__main__":
    main()
