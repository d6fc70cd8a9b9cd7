"""The OpenAPI 3.1 document of the JSON APIs, built from the running app: apispec's Flask plugin turns each
/api/ rule of the url_map into a path (methods and path parameters from the rule, descriptions from the view's
docstring); apidocs/operations.py adds bodies, query parameters and answers, whose pydantic models become the
components' schemas."""

from __future__ import annotations

import inspect

from apispec import APISpec
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask
from pydantic import BaseModel

from security import MAX_ID

from .models import Error
from .operations import OPS, Op

# The documents themselves and their page: served beside the APIs, not part of them.
SELF = frozenset({"apidocs.openapi", "apidocs.asyncapi", "apidocs.docs"})
ERROR_TEXT = {
    400: "refused: the request names what was wrong (a missing or bad field, or a failed CSRF check)",
    401: "not signed in",
    403: "your role or your groups do not allow it",
    404: "no such object, or not one you may see",
    409: "the object's state does not allow it now",
    413: "the body is larger than the limit",
}
HTTP_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def api_rules(app: Flask):
    """The /api/ rules the document describes, in path order."""
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/") and r.endpoint not in SELF]
    return sorted(rules, key=lambda r: (r.rule, r.endpoint))


def build_openapi(app: Flask) -> dict:
    """The document as a dict (served at /api/openapi.json). Raises KeyError naming a route without an entry."""
    spec = APISpec(
        title="Kefu Sandbox JSON APIs",
        version="1",
        openapi_version="3.1.0",
        plugins=[FlaskPlugin()],
        info={
            "description": "The JSON routes the desk, floor, review and role-play pages call. Sign in at /login "
            "first: the session cookie authenticates every call; POST and PATCH also need the page's CSRF token "
            "in the X-CSRFToken header. Refusals are JSON {error, field?} with a 4xx status."
        },
    )
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session"})
    _model_schema(spec, Error)  # every refusal's body
    for rule in api_rules(app):
        op = OPS.get(rule.endpoint)
        if op is None:
            raise KeyError(f"{rule.endpoint} ({rule.rule}) has no entry in apidocs/operations.py")
        view = app.view_functions[rule.endpoint]
        methods = [m for m in HTTP_METHODS if m in (rule.methods or ())]
        operations = {m.lower(): _operation(spec, rule, view, op, m.lower()) for m in methods}
        spec.path(view=view, operations=operations, app=app)
    doc = spec.to_dict()
    doc["security"] = [{"session": []}]
    return doc


def _operation(spec: APISpec, rule, view, op: Op, method: str) -> dict:
    base = view
    while hasattr(base, "__wrapped__"):
        base = base.__wrapped__
    doc = inspect.getdoc(base) or ""
    out: dict = {
        "operationId": rule.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "description": (doc + "\n\n" if doc else "") + f"Who may call it: {op.who}.",
        "parameters": _path_params(rule) + [_query(p) for p in op.query],
        "responses": {str(op.status): _answer(spec, op)},
    }
    # A POST or PATCH without the session's CSRF token is refused with a 400 before anything else.
    errors = op.errors if method == "get" or 400 in op.errors else (400, *op.errors)
    for code in sorted(errors):
        out["responses"][str(code)] = {
            "description": ERROR_TEXT[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    if op.body is not None:
        if isinstance(op.body, dict) and "content" in op.body:
            out["requestBody"] = {"required": True, "content": {op.body["content"]: {"schema": op.body["schema"]}}}
        else:
            out["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(spec, op.body)}}}
    out.update(op.extra)
    return out


def _path_params(rule) -> list[dict]:
    params = []
    for name in sorted(rule.arguments, key=rule.rule.index):
        conv = type(rule._converters[name]).__name__
        if "Integer" in conv or conv == "IdConverter":
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}  # security.IdConverter's range
        else:
            schema = {"type": "string", "minLength": 1}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query(p) -> dict:
    out = {"name": p.name, "in": "query", "required": p.required, "schema": p.schema}
    if p.description:
        out["description"] = p.description
    return out


def _answer(spec: APISpec, op: Op) -> dict:
    return {"description": "done", "content": {op.content: {"schema": _ref(spec, op.ok)}}}


def _ref(spec: APISpec, model) -> dict:
    """A pydantic model becomes a named component (with the models it uses); a dict is used as it is."""
    if model is None:
        return {}
    if isinstance(model, dict):
        return model
    return _model_schema(spec, model)


def _model_schema(spec: APISpec, model: type[BaseModel]) -> dict:
    name = model.__name__
    if name not in spec.components.schemas:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for sub_name, sub in schema.pop("$defs", {}).items():
            if sub_name not in spec.components.schemas:
                spec.components.schema(sub_name, sub)
        spec.components.schema(name, schema)
    return {"$ref": f"#/components/schemas/{name}"}
