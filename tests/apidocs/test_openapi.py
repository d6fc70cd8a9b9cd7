"""The OpenAPI document is generated from the app's routes: every /api/ route is in it, nothing else is, and it
is served (with its docs page) to anyone."""

from __future__ import annotations

from apidocs.openapi import SELF, api_rules
from apidocs.operations import OPS


def test_every_api_route_is_documented_and_every_entry_names_a_route(app):
    """A new /api/ route without an entry in apidocs/operations.py (or a stale entry) is named here."""
    endpoints = {r.endpoint for r in api_rules(app)}
    assert sorted(endpoints - set(OPS)) == [], "routes missing from apidocs/operations.py"
    assert sorted(set(OPS) - endpoints) == [], "entries in apidocs/operations.py naming no /api/ route"


def test_document_has_every_route_and_method(app, client):
    """Each rule's path (OpenAPI form) and each of its methods are operations of the served document."""
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    ops = {(path, method) for path, item in doc["paths"].items() for method in item}
    for rule in api_rules(app):
        path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in ops, f"{method} {path}"
    assert not any(r.endpoint in SELF for r in api_rules(app))


def test_int_ids_are_bounded_and_bodies_are_schemas(client):
    """Path ids carry the converter's range, and bodies refer to the pydantic models' components."""
    doc = client.get("/api/openapi.json").get_json()
    param = doc["paths"]["/api/contacts/{contact_id}/events"]["get"]["parameters"][0]
    assert param["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    body = doc["paths"]["/api/tickets"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NewTicket"}
    assert "subject" in doc["components"]["schemas"]["NewTicket"]["required"]
    # every POST can be refused for a missing CSRF token
    assert "400" in doc["paths"]["/api/exercises/{exercise_id}/stop"]["post"]["responses"]


def test_docs_page_is_served_with_local_swagger_ui_and_no_inline_script(client):
    """The page loads Swagger UI from static/vendor (npm), not a CDN, under the site's CSP."""
    r = client.get("/api/docs?lang=en")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html and "/static/js/apidocs.js" in html
    assert "<script>" not in html and "https://" not in html.split("</header>")[1]
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    for ns in ("/desk", "/customer", "/voice", "/group", "/livestream", "/floor"):
        assert f"<code>{ns}</code>" in html


def test_docs_page_in_chinese(client):
    """The page's own text is translated."""
    html = client.get("/api/docs?lang=zh_CN").get_data(as_text=True)
    assert "接口" in html
