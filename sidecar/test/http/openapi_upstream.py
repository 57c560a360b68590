"""A FastAPI app for openapi-must-allow.test.ts: it serves its own OpenAPI document, and variants of it.

Prints {"port": port}, then serves until its stdin closes.
  /openapi.json                  FastAPI's own document (a Customer with email, ssn, phone, card_number)
  /documented/openapi.json       a mounted app whose ssn field has examples and a description holding an SSN
  /variant/{name}?pad=N          FastAPI's document or the documented app's reshaped (see VARIANTS), N padding entries at
                                 its end so that it can outgrow regate's whole-body cap and be streamed
"""

import copy
import json
import os
import socket
import sys
import threading
from typing import Optional

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, Field

SSN = "123-45-6789"


class Customer(BaseModel):
    email: str
    ssn: str
    phone: Optional[str] = None
    card_number: str


class DocumentedCustomer(BaseModel):
    email: str
    ssn: str = Field(examples=[SSN], description=f"SSN like {SSN}")
    card_number: str


app = FastAPI(title="Customers")
documented = FastAPI(title="Documented")


@app.get("/customers/{id}", response_model=Customer)
def customer(id: int) -> Customer:
    return Customer(email="alice@example.com", ssn=SSN, phone="+1 555 0100", card_number="4111111111111111")


@app.get("/customers", response_model=list[Customer])
def search(email: Optional[str] = None, ssn: Optional[str] = None) -> list[Customer]:
    return []


@documented.post("/customers", response_model=DocumentedCustomer)
def create(body: DocumentedCustomer) -> DocumentedCustomer:
    return body


def reshaped(name: str) -> dict:
    if name == "customers":
        return copy.deepcopy(app.openapi())
    # FastAPI keeps the document it built: each variant reshapes its own copy.
    spec = copy.deepcopy(documented.openapi())
    ssn = spec["components"]["schemas"]["DocumentedCustomer"]["properties"]["ssn"]
    if name == "plain":
        return dict(spec)
    if name == "not-first":
        return {"info": spec["info"], **spec}
    if name == "under-data":
        return {"data": spec}
    if name == "type-value":
        ssn["type"] = SSN
    elif name == "format-value":
        ssn["format"] = SSN
    elif name == "ref-value":
        ssn["$ref"] = f"#/components/schemas/{SSN}"
    elif name == "title-value":
        ssn["title"] = SSN
    else:
        raise KeyError(name)
    return spec


@app.get("/variant/{name}")
def variant(name: str, pad: int = 0) -> Response:
    doc = reshaped(name)
    if pad:
        doc["x-padding"] = ["p" * 100] * pad
    return Response(json.dumps(doc), media_type="application/json")


app.mount("/documented", documented)


def main() -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    # The test owns this process: when it goes away (stdin closes), so does the server.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    main()
