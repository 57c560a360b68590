"""A Starlette API streaming records and answering tokens in headers, for framings-redteam.test.ts.

Prints the port it listens on, then serves until its stdin closes. The records hold the values the suite's
masks protect; the streams are written as Starlette users write them, right and wrong.
"""

import base64
import json
import os
import socket
import sys
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route

ROWS = [
    {"id": 1, "name": "Alice Smith", "email": "alice@example.com", "ssn": "123-45-6789"},
    {"id": 2, "name": "Bob Jones", "email": "bob@example.net", "ssn": "536-22-1234"},
]


def jwt(claims: dict) -> str:
    def seg(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    return ".".join([seg(b'{"alg":"RS256","typ":"JWT"}'), seg(json.dumps(claims).encode()), seg(b"signature-bytes")])


TOKEN = jwt({"sub": "u-1", "email": "alice@example.com", "name": "Alice Smith"})


async def rows_without_data_prefix(_request: Request) -> StreamingResponse:
    # The usual slip: the event-stream type, but each record written as a bare JSON line.
    async def gen():
        for row in ROWS:
            yield json.dumps(row) + "\n\n"

    return StreamingResponse(gen(), media_type="text/event-stream")


async def rows_pretty(_request: Request) -> StreamingResponse:
    async def gen():
        yield json.dumps(ROWS, indent=2) + "\n"

    return StreamingResponse(gen(), media_type="text/event-stream")


async def signed_in_lines(_request: Request) -> StreamingResponse:
    async def gen():
        for row in ROWS:
            yield f"{row['email']}: signed in\n\n"

    return StreamingResponse(gen(), media_type="text/event-stream")


async def rows_as_events(_request: Request) -> StreamingResponse:
    # Written right: what an SSE client reads, plus a comment, an id, a retry and an event name.
    async def gen():
        yield ": stream opened\n\nretry: 1000\n\n"
        for row in ROWS:
            yield f"event: row\nid: {row['id']}\ndata: {json.dumps(row)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(gen(), media_type="text/event-stream")


async def titled_events(_request: Request) -> StreamingResponse:
    # Event names taken from a record's title, which its author wrote: one holds a U+2028 and a document.
    titles = ["weekly report", "notes\u2028" + json.dumps({"ssn": ROWS[0]["ssn"], "email": ROWS[0]["email"]})]

    async def gen():
        for i, title in enumerate(titles):
            yield f"event: {title}\n: by {title}\ndata: {json.dumps({'n': i})}\n\n"

    return StreamingResponse(gen(), media_type="text/event-stream")


async def session(_request: Request) -> JSONResponse:
    # The token inside longer strings: an auth header as an API echoes it, an OpenID redirect URL.
    return JSONResponse({"authorization": f"Bearer {TOKEN}", "redirect": f"https://app.example/cb#id_token={TOKEN}&state=s-42"})


SAML = base64.b64encode(
    b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
    b'<saml:Subject><saml:NameID>alice@example.com</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>'
).decode()


async def saml_post(_request: Request) -> HTMLResponse:
    # SAML's HTTP-POST binding: a page that posts the base64 assertion on to the service provider.
    return HTMLResponse(f'<form method="post" action="https://sp.example/acs"><input type="hidden" name="SAMLResponse" value="{SAML}"/></form>')


PNG = base64.b64encode(bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + bytes(range(48))).decode()
CURSOR = base64.urlsafe_b64encode(b"page=2&size=50&order=asc").decode()


async def plain_base64(_request: Request) -> JSONResponse:
    # Base64 that holds no masked value: a cursor, an inline image, a digest.
    return JSONResponse({"next": f"/rows?cursor={CURSOR}", "avatar": f"data:image/png;base64,{PNG}", "digest": "sha256=n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="})


async def login(_request: Request) -> JSONResponse:
    # Spring Security and many JWT tutorials answer a login with the token in the Authorization header.
    return JSONResponse({"ok": True}, headers={"Authorization": f"Bearer {TOKEN}", "X-Id-Token": TOKEN})


async def authorize(_request: Request) -> RedirectResponse:
    # An OpenID Connect implicit-flow answer: the id_token rides in the redirect's fragment.
    return RedirectResponse(f"https://app.example/cb#id_token={TOKEN}&state=s-42", status_code=302)


async def plain_headers(_request: Request) -> JSONResponse:
    # Base64 in headers that holds no value: a request id, a digest, an opaque cursor.
    cursor = base64.urlsafe_b64encode(b"page=2&size=50&order=asc").decode()
    return JSONResponse({"ok": True}, headers={"X-Request-Id": "b3f1c2d4e5a6978812345678", "X-Cursor": cursor, "X-Checksum": "sha256-n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="})


app = Starlette(
    routes=[
        Route("/rows-bare", rows_without_data_prefix),
        Route("/rows-pretty", rows_pretty),
        Route("/signed-in", signed_in_lines),
        Route("/rows-events", rows_as_events),
        Route("/titled-events", titled_events),
        Route("/login", login, methods=["POST"]),
        Route("/authorize", authorize),
        Route("/plain-headers", plain_headers),
        Route("/session", session),
        Route("/saml-post", saml_post),
        Route("/plain-base64", plain_base64),
    ]
)


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(json.dumps({"port": sock.getsockname()[1], "token": TOKEN}), flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
