"""A Starlette API (the router under FastAPI) served by uvicorn, for real-frameworks-redteam.test.ts.

Prints the port it listens on, then serves until its stdin closes. GET /_executed lists the handlers that ran,
so the test can tell what the framework executed from what regate answered.
"""

import json
import socket
import sys
import threading
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

executed: list[dict] = []


def recorder(name: str):
    async def handler(request: Request) -> JSONResponse:
        executed.append({"route": name, "method": request.method, "path": request.scope["path"]})
        return JSONResponse({"route": name})

    return handler


async def listing(_request: Request) -> JSONResponse:
    return JSONResponse(executed)


app = Starlette(
    routes=[
        Route("/_executed", listing, methods=["GET"]),
        Route("/refunds", recorder("refund"), methods=["POST"]),
        Route("/items/{id}", recorder("read item"), methods=["GET"]),
        Route("/items/{id}", recorder("delete item"), methods=["DELETE"]),
    ]
)


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Listening before the port is printed: a request sent before uvicorn starts waits in the backlog.
    sock.listen(128)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    # The test owns this process: when it goes away (stdin closes), so does the server.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
