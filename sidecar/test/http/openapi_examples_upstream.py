"""A FastAPI app for openapi-examples.test.ts: OpenAPI documents whose field-named parameters and properties carry
example and default values, and a Swagger 2.0 document written out by hand.

Prints {"port": port}, then serves until its stdin closes.
  /openapi.json            FastAPI's own document: parameters with examples (Query/Path/Header/Cookie/Body,
                           openapi_examples), a model with numeric bounds, const and enum values, webhooks
  /swagger.json            a literal Swagger 2.0 document (root parameters, responses, definitions)
  /variant/{name}?pad=N    one of them as served or reshaped (see reshaped), N padding entries at its end so that it can
                           outgrow regate's whole-body cap and be streamed
"""

import copy
import json
import os
import socket
import sys
import threading
from typing import Annotated, Literal, Optional

from fastapi import Body, Cookie, FastAPI, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

EMAIL = "alice@example.com"
SSN = "123-45-6789"
CARD = "4111111111111111"
PHONE = "+1 555 0100"

app = FastAPI(title="Examples")


class Limits(BaseModel):
    email: str = Field(default=EMAIL, examples=[EMAIL])
    ssn: Literal["123-45-6789"] = Field(min_length=11, max_length=11)
    phone: Literal["+1 555 0100", "+1 555 0199"] = PHONE
    card_number: int = Field(default=int(CARD), ge=4000000000000000, le=4999999999999999, multiple_of=1)
    page: int = Field(default=1, ge=1, le=100, examples=[3])


@app.get("/customers/{name}")
def customers(
    name: Annotated[str, Path(examples=["Alice Smith"])],
    email: Annotated[Optional[str], Query(examples=[EMAIL], openapi_examples={"one": {"summary": "an address", "value": EMAIL}})] = EMAIL,
    ssn: Annotated[str, Header(examples=[SSN])] = SSN,
    card_number: Annotated[str, Cookie(examples=[CARD], min_length=16, max_length=19)] = CARD,
    page: Annotated[int, Query(examples=[3], ge=1, le=100)] = 1,
) -> dict:
    return {}


@app.post("/customers")
def create(limits: Annotated[Limits, Body(examples=[{"email": EMAIL, "ssn": SSN, "phone": PHONE, "card_number": int(CARD), "page": 2}])]) -> dict:
    return {}


@app.post("/contact")
def contact(email: Annotated[str, Body(embed=True, examples=[EMAIL])]) -> dict:
    return {}


# A webhook whose payload schema is written inline: its properties are named like fields.
@app.webhooks.post(
    "customer-created",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["email", "ssn"],
                        "properties": {
                            "email": {"type": "string", "format": "email", "title": "Email"},
                            "ssn": {"type": "string", "minLength": 11, "maxLength": 11, "examples": [SSN]},
                            "page": {"type": "integer", "minimum": 1},
                        },
                    }
                }
            },
        }
    },
)
def customer_created(ssn: Annotated[str, Query(examples=[SSN])] = SSN) -> None:
    pass


SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "Customers", "version": "1.0"},
    "basePath": "/v1",
    "parameters": {
        "email": {"name": "email", "in": "query", "type": "string", "format": "email", "default": EMAIL, "x-example": EMAIL},
        "ssns": {
            "name": "ssn",
            "in": "query",
            "type": "array",
            "collectionFormat": "csv",
            "items": {"type": "string", "maxLength": 11, "enum": [SSN, "987-65-4320"], "default": SSN},
        },
        "page": {"name": "page", "in": "query", "type": "integer", "minimum": 1, "maximum": 100, "default": 1},
    },
    "responses": {
        "Customer": {
            "description": "A customer",
            "schema": {
                "type": "object",
                "properties": {"email": {"type": "string", "format": "email"}, "name": {"type": "string", "title": "Name"}},
            },
            "examples": {"application/json": {"email": EMAIL, "name": "Alice"}},
        }
    },
    "definitions": {
        "Customer": {
            "type": "object",
            "required": ["email", "ssn"],
            "properties": {
                "email": {"type": "string", "format": "email", "example": EMAIL},
                "ssn": {"type": "string", "minLength": 11, "maxLength": 11},
                "card_number": {"type": "integer", "minimum": 4000000000000000, "default": int(CARD)},
            },
        }
    },
    "paths": {
        "/customers": {
            "get": {
                "parameters": [{"$ref": "#/parameters/email"}, {"$ref": "#/parameters/ssns"}, {"$ref": "#/parameters/page"}],
                "responses": {"200": {"$ref": "#/responses/Customer"}},
            },
            "post": {
                "parameters": [{"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Customer"}}],
                "responses": {"201": {"description": "Created", "schema": {"$ref": "#/definitions/Customer"}}},
            },
        }
    },
}


def name_last(doc: dict) -> dict:
    """Every parameter object with its `name` written last (a generator that orders keys so)."""

    def walk(v):
        if isinstance(v, dict):
            out = {k: walk(x) for k, x in v.items() if k != "name" or not ("in" in v)}
            if "name" in v and "in" in v:
                out["name"] = v["name"]
            return out
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(doc)


def reshaped(name: str) -> dict:
    if name == "fastapi":
        return copy.deepcopy(app.openapi())
    if name == "fastapi-name-last":
        return name_last(app.openapi())
    if name == "swagger":
        return copy.deepcopy(SWAGGER)
    if name == "swagger-name-last":
        return name_last(SWAGGER)
    if name == "swagger-detect":
        # Data where structure is kept: a card number as a numeric bound, an address in a description.
        doc = copy.deepcopy(SWAGGER)
        doc["definitions"]["Customer"]["properties"]["card_number"]["minimum"] = int(CARD)
        doc["parameters"]["page"]["description"] = f"ask {EMAIL}"
        return doc
    raise KeyError(name)


@app.get("/swagger.json", include_in_schema=False)
def swagger() -> Response:
    return Response(json.dumps(SWAGGER), media_type="application/json")


@app.get("/variant/{name}", include_in_schema=False)
def variant(name: str, pad: int = 0) -> Response:
    doc = reshaped(name)
    if pad:
        doc["x-padding"] = ["p" * 100] * pad
    return Response(json.dumps(doc), media_type="application/json")


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
