# A hand-written MCP server (JSON-RPC over HTTP POST, JSON answers) on Python's standard library, as people
# write small ones: it routes a method by a folded key, so that "Tools/Call" or "tools/call " still works.
# Each path folds the way one such server does:
#   /strip     method.strip().lower()            (str.strip also drops \x1c-\x1f and \x85)
#   /casefold  method.strip().casefold()         (casefold reads the long s "ſ" as "s")
#   /nfkc      NFKC, then strip().lower()        (fullwidth "ｔｏｏｌｓ" reads as "tools")
# Tools are looked up by their exact name: echo_auth writes back the Authorization header it got, lookup_fail
# answers with a JSON-RPC error whose message and data hold a customer record. A path ending in /sse answers
# in an event stream whose event type and id carry that header. GET /_ran lists the tools run so far.
# Prints {"port": N} on its first stdout line; exits when stdin closes.
import json
import sys
import threading
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RAN = []

FOLDS = {
    "/strip": lambda m: m.strip().lower(),
    "/casefold": lambda m: m.strip().casefold(),
    "/nfkc": lambda m: unicodedata.normalize("NFKC", m).strip().lower(),
}

CUSTOMER = {"name": "Alice Smith", "email": "alice@example.com", "ssn": "123-45-6789", "card_number": "4111 1111 1111 1111"}


class ToolError(Exception):
    def __init__(self, message, data):
        super().__init__(message)
        self.data = data


def lookup_fail(args):
    raise ToolError(f"no account for {CUSTOMER['email']}", {"customer": CUSTOMER})


TOOLS = {
    "run_report": lambda args: "report ready",
    "delete_customer": lambda args: "deleted",
    "echo_auth": lambda args: "you sent " + CURRENT.auth,
    "lookup_fail": lookup_fail,
}
CURRENT = threading.local()


def tools_call(params):
    name = params.get("name")
    tool = TOOLS.get(name)
    if tool is None:
        raise KeyError(f"unknown tool {name}")
    RAN.append(name)
    return {"content": [{"type": "text", "text": tool(params.get("arguments") or {})}]}


HANDLERS = {
    "initialize": lambda p: {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "py-lenient", "version": "1"}},
    "tools/list": lambda p: {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in TOOLS]},
    "tools/call": tools_call,
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_ran":
            self.send(200, RAN)
        else:
            self.send(405, {"error": "POST only"})

    def do_POST(self):
        sse = self.path.endswith("/sse")
        fold = FOLDS.get(self.path.removesuffix("/sse"))
        CURRENT.auth = self.headers.get("authorization", "")
        msg = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        if fold is None:
            self.send(404, {"error": "no such path"})
            return
        handler = HANDLERS.get(fold(msg.get("method", "")))
        try:
            if handler is None:
                raise KeyError("method not found")
            reply = {"jsonrpc": "2.0", "id": msg.get("id"), "result": handler(msg.get("params") or {})}
        except KeyError as err:
            reply = {"jsonrpc": "2.0", "id": msg.get("id"), "error": {"code": -32601, "message": str(err)}}
        except ToolError as err:
            reply = {"jsonrpc": "2.0", "id": msg.get("id"), "error": {"code": -32000, "message": str(err), "data": err.data}}
        if "id" in msg and sse:
            # The event's id and type carry what the server likes; here the credential it was sent.
            data = f"event: message {CURRENT.auth}\nid: {CURRENT.auth}\ndata: {json.dumps(reply)}\n\n".encode()
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif "id" in msg:
            self.send(200, reply)
        else:
            self.send(202)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(json.dumps({"port": server.server_address[1]}), flush=True)
sys.stdin.read()
server.shutdown()
