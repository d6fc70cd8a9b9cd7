"""apidocs: the documents of the sandbox's interfaces, generated from the running app. ``/api/openapi.json``
(the JSON APIs, OpenAPI 3.1), ``/api/asyncapi.json`` (the Socket.IO namespaces, AsyncAPI 3.0) and ``/api/docs``,
the page that shows both (Swagger UI from npm for the first, the second rendered here).

They are public: they describe shapes and rules that the open-source code states anyway, hold no data, and a
tool (or a person writing a client) can read them before signing in."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, render_template

bp = Blueprint("apidocs", __name__)


def _cached(name: str, build) -> dict:
    # The routes and namespaces are fixed once the app is built: build each document once per app.
    docs = current_app.extensions.setdefault("kefu_apidocs", {})
    if name not in docs:
        docs[name] = build()
    return docs[name]


def openapi_document() -> dict:
    from .openapi import build_openapi

    return _cached("openapi", lambda: build_openapi(current_app))


def asyncapi_document() -> dict:
    from extensions import socketio

    from .asyncapi import build_asyncapi

    return _cached("asyncapi", lambda: build_asyncapi(socketio))


@bp.get("/api/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of the JSON APIs."""
    return jsonify(openapi_document())


@bp.get("/api/asyncapi.json")
def asyncapi():
    """The AsyncAPI 3.0 document of the Socket.IO namespaces."""
    return jsonify(asyncapi_document())


@bp.get("/api/docs")
def docs():
    """The page that shows both documents."""
    from .asyncapi import page_view

    return render_template("apidocs/docs.html", namespaces=page_view(asyncapi_document()))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
