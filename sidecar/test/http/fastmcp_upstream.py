"""A CRM MCP server written with the Python SDK's FastMCP, for mcp-frameworks-redteam.test.ts.

One FastMCP server, mounted four times under uvicorn: /json-stateful, /sse-stateful, /json-stateless and
/sse-stateless (each serves MCP at <prefix>/mcp). The stateful SSE one keeps events for resumption in one
store shared by all its sessions, as the SDK's session manager shares the store it is given. Prints the port
it listens on, then serves until its stdin closes. GET /_executed lists the tools that ran; GET /_get_streams
the sessions whose GET stream (for what the server sends unasked) it opened, in order.
"""

import base64
import contextlib
import json
import socket
import sys
import threading
import uuid

import uvicorn
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.streamable_http import EventMessage, EventStore
from mcp.types import (
    BlobResourceContents,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    SamplingMessage,
    TextContent,
    TextResourceContents,
)
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

CUSTOMER = {
    "id": 1,
    "name": "Alice Smith",
    "email": "alice@example.com",
    "phone": "(415) 555-2671",
    "ssn": "123-45-6789",
    "card_number": "4111 1111 1111 1111",
}

executed: list[str] = []
get_streams: list[str] = []


class MemoryEvents(EventStore):
    """Events by id, in order; a replay sends the events of the same stream that came after the id."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, object]] = []

    async def store_event(self, stream_id, message):
        event_id = uuid.uuid4().hex
        self.events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id, send_callback):
        index = next((i for i, e in enumerate(self.events) if e[0] == last_event_id), None)
        if index is None:
            return None
        stream_id = self.events[index][1]
        for event_id, sid, message in self.events[index + 1 :]:
            if sid == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


class Confirm(BaseModel):
    ok: bool


class Customer(BaseModel):
    id: int
    name: str
    email: str
    phone: str
    ssn: str
    card_number: str


def crm(**settings) -> FastMCP:
    mcp = FastMCP("crm", **settings)

    @mcp.tool()
    def get_customer(id: int) -> Customer:
        """A typed result: FastMCP sends it as structuredContent and as JSON text."""
        executed.append("get_customer")
        return Customer(**CUSTOMER)

    @mcp.tool()
    def delete_customer(id: int) -> str:
        executed.append("delete_customer")
        return "deleted"

    @mcp.tool()
    def run_report() -> str:
        executed.append("run_report")
        return "report ready"

    @mcp.tool()
    def customer_files(id: int) -> list:
        executed.append("customer_files")
        record = json.dumps(CUSTOMER)
        b64 = base64.b64encode(record.encode()).decode()
        return [
            ImageContent(type="image", data=b64, mimeType="image/png"),
            EmbeddedResource(type="resource", resource=TextResourceContents(uri="crm://customers/1", mimeType="application/json", text=record)),
            EmbeddedResource(type="resource", resource=BlobResourceContents(uri="crm://customers/1.json", mimeType="application/json", blob=b64)),
            ResourceLink(type="resource_link", uri=f"crm://customers/{CUSTOMER['email']}", name=CUSTOMER["email"], description=f"SSN {CUSTOMER['ssn']}"),
        ]

    @mcp.tool()
    async def notify_customer(id: int, ctx: Context) -> str:
        executed.append("notify_customer")
        await ctx.info(f"emailing {CUSTOMER['email']}, ssn {CUSTOMER['ssn']}")
        await ctx.report_progress(1, 2, message=f"card {CUSTOMER['card_number']}")
        return "sent"

    @mcp.tool()
    async def ask_model(id: int, ctx: Context) -> str:
        """Sampling as the SDK's README writes it: no related request, so it goes on the session's GET stream."""
        executed.append("ask_model")
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=f"Summarise {json.dumps(CUSTOMER)}"))],
            max_tokens=50,
        )
        return result.content.text if result.content.type == "text" else "?"

    @mcp.tool()
    async def confirm_customer(id: int, ctx: Context) -> str:
        executed.append("confirm_customer")
        answer = await ctx.elicit(message=f"Is {CUSTOMER['email']} (SSN {CUSTOMER['ssn']}) right?", schema=Confirm)
        return answer.action

    @mcp.resource("crm://customers/{id}")
    def customer_resource(id: str) -> str:
        executed.append("resource")
        return json.dumps(CUSTOMER)

    @mcp.prompt()
    def customer_summary(id: str) -> str:
        executed.append("prompt")
        return f"Summarise this customer: {json.dumps(CUSTOMER)}"

    return mcp


async def listing(_request: Request) -> JSONResponse:
    return JSONResponse(executed)


async def get_stream_listing(_request: Request) -> JSONResponse:
    return JSONResponse(get_streams)


def watch_get_streams(app):
    """Records a session's GET stream once its head is sent: the SDK registers the stream in the same turn of the
    event loop, before it reads another request."""

    async def watched(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await app(scope, receive, send)
        session = dict(scope["headers"]).get(b"mcp-session-id", b"").decode()

        async def send_watched(message):
            await send(message)
            if message["type"] == "http.response.start" and message["status"] == 200:
                get_streams.append(session)

        return await app(scope, receive, send_watched)

    return watched


def main() -> None:
    servers = {
        "json-stateful": crm(json_response=True),
        "sse-stateful": crm(event_store=MemoryEvents()),
        "json-stateless": crm(json_response=True, stateless_http=True),
        "sse-stateless": crm(stateless_http=True),
    }
    apps = {name: s.streamable_http_app() for name, s in servers.items()}

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async with contextlib.AsyncExitStack() as stack:
            for s in servers.values():
                await stack.enter_async_context(s.session_manager.run())
            yield

    routes = [Route("/_executed", listing), Route("/_get_streams", get_stream_listing)] + [Mount(f"/{name}", app=watch_get_streams(app)) for name, app in apps.items()]
    app = Starlette(routes=routes, lifespan=lifespan)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Listening before the port is printed: a connection made before uvicorn serves waits to be accepted.
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    threading.Thread(target=lambda: (sys.stdin.read(), setattr(server, "should_exit", True)), daemon=True).start()
    print(json.dumps({"port": port}), flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
