"""Flask, Django and FastAPI apps, each on its own port, for python-frameworks-redteam.test.ts.

Prints {"flask": port, "django": port, "fastapi": port}, then serves until its stdin closes. GET /_executed on
any of them lists what the handlers of all three ran with, as each framework read the request.
"""

import json
import os
import socket
import sys
import threading

executed: list[dict] = []

# --- Flask (Werkzeug) -------------------------------------------------------------------------------------
from flask import Flask, jsonify, request as flask_request

flask_app = Flask("flask_upstream")


@flask_app.get("/_executed")
def flask_listing():
    return jsonify(executed)


@flask_app.route("/refunds", methods=["POST"])
def flask_refund():
    body = flask_request.get_json(force=True, silent=True)
    executed.append({"fw": "flask", "route": "refund", "method": flask_request.method, "json": body, "args": flask_request.args.to_dict(flat=False), "form": flask_request.form.to_dict(flat=False)})
    return jsonify({"route": "refund"})


@flask_app.route("/items/<id>", methods=["GET", "DELETE"])
def flask_item(id):
    executed.append({"fw": "flask", "route": "item", "method": flask_request.method, "id": id})
    return jsonify({"id": id, "email": "alice@example.com", "ssn": "123-45-6789", "score": float("nan") if flask_request.args.get("nan") else 1})


@flask_app.get("/records/<id>")
def flask_record(id):
    # A stored document returned as it was saved: json.dumps writes a float it cannot hold as NaN.
    saved = {"ssn": "123-45-6789", "phone": "+1 555 0100", "score": float("nan")}
    executed.append({"fw": "flask", "route": "record", "method": flask_request.method, "id": id})
    return jsonify({"id": id, "payload": json.dumps(saved)})


@flask_app.get("/records")
def flask_records():
    # The same documents streamed (chunked), as a generator view writes a long listing.
    inf = flask_request.args.get("inf") is not None

    def rows():
        yield '{"records": ['
        for n in range(3):
            saved = {"ssn": f"123-45-678{n}", "phone": "+1 555 0100", "score": float("nan")}
            row = {"id": n, "score": float("-inf"), "payload": json.dumps(saved)} if inf else {"id": n, "payload": json.dumps(saved)}
            yield ("," if n else "") + json.dumps(row)
        yield "]}"

    executed.append({"fw": "flask", "route": "records", "method": flask_request.method})
    return flask_app.response_class(rows(), mimetype="application/json")


# --- Django -------------------------------------------------------------------------------------------------
import django
from django.conf import settings

settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="test-only", MIDDLEWARE=["django.middleware.common.CommonMiddleware"])
django.setup()
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def django_refund(request):
    # A function view, as Django tutorials write them: it runs on whatever method the request line names.
    body = json.loads(request.body or b"null") if request.body[:1] in (b"{", b"[") else None
    executed.append({"fw": "django", "route": "refund", "method": request.method, "json": body, "GET": {k: request.GET.getlist(k) for k in request.GET}, "POST": {k: request.POST.getlist(k) for k in request.POST}})
    return JsonResponse({"route": "refund"})


def django_listing(_request):
    return JsonResponse(executed, safe=False)


@csrf_exempt
def django_item(request, id):
    executed.append({"fw": "django", "route": "item", "method": request.method, "id": id})
    return HttpResponse(json.dumps({"id": id, "email": "alice@example.com"}))


urlpatterns = [path("_executed", django_listing), path("refunds", django_refund), path("items/<str:id>", django_item)]

from django.core.wsgi import get_wsgi_application

django_app = get_wsgi_application()

# --- FastAPI --------------------------------------------------------------------------------------------
from fastapi import FastAPI, Request as FastRequest

fastapi_app = FastAPI()


@fastapi_app.get("/_executed")
def fastapi_listing():
    return executed


@fastapi_app.api_route("/items/{id}", methods=["GET", "DELETE"])
def fastapi_item(id: str, request: FastRequest):
    executed.append({"fw": "fastapi", "route": "item", "method": request.method, "id": id})
    return {"id": id, "email": "alice@example.com"}


def bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def main() -> None:
    import uvicorn
    from werkzeug.serving import make_server

    ports = {}
    for name, app in (("flask", flask_app), ("django", django_app)):
        sock = bound()
        ports[name] = sock.getsockname()[1]
        srv = make_server("127.0.0.1", 0, app, threaded=True, fd=sock.fileno())
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    sock = bound()
    ports["fastapi"] = sock.getsockname()[1]
    print(json.dumps(ports), flush=True)
    # The test owns this process: when it goes away (stdin closes), so does every server.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    uvicorn.Server(uvicorn.Config(fastapi_app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    main()
