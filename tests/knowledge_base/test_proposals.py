"""Proposing, approving and rejecting KB edits: roles, versions, the index update, and the pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accounts.models import User
from extensions import db
from knowledge_base import search as kb
from knowledge_base.actions import KbError, do_approve_proposal, do_propose_edit, do_reject_proposal
from knowledge_base.models import Article, ArticleProposal, ArticleVersion

from . import factories as f


@pytest.fixture
def kb_setup(app, make_user):
    make_user("tina", role="trainee")
    make_user("leo", role="lead")
    make_user("gina", role="grader")
    with app.app_context():
        f.standard_kb()
    return app


def _user(name):
    return db.session.scalar(select(User).where(User.username == name))


def _article(lang, slug):
    return db.session.scalar(select(Article).where(Article.lang == lang, Article.slug == slug))


def _propose_form(**over):
    data = {
        "title": "退货运费由谁承担",
        "category": "returns",
        "tags": "退货, 运费，运费险",
        "body": "七天无理由退货时，退货运费由买家承担。\n\n质量问题由商家承担，并可申请运费险理赔。",
        "reason": "补充运费险理赔的说法",
    }
    data.update(over)
    return data


def test_trainee_proposes_lead_approves_and_search_updates_at_once(kb_setup, client, auth):
    """A trainee's edit goes pending; the lead's approval publishes v2, keeps v1, and search finds the new
    wording immediately through an incremental update (no rebuild)."""
    app = kb_setup
    with app.app_context():
        assert kb.search("理赔", "zh_CN") == [] or kb.search("理赔", "zh_CN")[0]["slug"] == "return-shipping"
        builds = kb.get_search().builds
    auth.login("tina")
    r = client.post("/kb/zh_CN/return-shipping/propose", data=_propose_form(body="退货运费：质量问题走极速理赔通道。"))
    assert r.status_code == 302
    with app.app_context():
        p = db.session.scalar(select(ArticleProposal))
        assert (p.status, p.base_version, p.tags) == ("pending", 1, ["退货", "运费", "运费险"])
        assert _article("zh_CN", "return-shipping").version == 1
        assert kb.search("极速理赔通道", "zh_CN") == []
        pid = p.id
    auth.logout()
    auth.login("leo")
    page = client.get("/kb/proposals")
    assert page.status_code == 200 and "极速理赔通道" in page.get_data(as_text=True)
    r = client.post(f"/kb/proposals/{pid}/approve", data={"note": "好的"})
    assert r.status_code == 302
    with app.app_context():
        a = _article("zh_CN", "return-shipping")
        assert a.version == 2 and "极速理赔通道" in a.body and a.tags == ["退货", "运费", "运费险"]
        versions = db.session.scalars(
            select(ArticleVersion).where(ArticleVersion.article_id == a.id).order_by(ArticleVersion.version)
        ).all()
        assert [v.version for v in versions] == [1, 2]
        assert "七天无理由" in versions[0].body and versions[1].author_id == _user("tina").id
        p = db.session.get(ArticleProposal, pid)
        assert (p.status, p.reviewer_id, p.review_note) == ("approved", _user("leo").id, "好的")
        [hit] = kb.search("极速理赔通道", "zh_CN")
        assert (hit["slug"], hit["version"]) == ("return-shipping", 2)
        assert kb.get_search().builds == builds
    page = client.get("/kb/zh_CN/return-shipping").get_data(as_text=True)
    assert "极速理赔通道" in page and "v1" in page and "v2" in page
    old = client.get("/kb/zh_CN/return-shipping?v=1").get_data(as_text=True)
    shown = old.split('id="kb-article"')[1].split("</article>")[0]  # the edit form always holds the current text
    assert "七天无理由退货时" in shown and "极速理赔通道" not in shown and "version 1" in shown


def test_trainee_cannot_review(kb_setup, client, auth):
    """A trainee gets 403 on the review page and on approve/reject, and the proposal stays pending."""
    app = kb_setup
    with app.app_context():
        p = do_propose_edit(
            _user("tina"),
            _article("en", "invoice"),
            "How to get an invoice",
            "Ask us by email.",
            ["invoice"],
            "billing",
            "en",
            None,
        )
        pid = p.id
    auth.login("tina")
    assert client.get("/kb/proposals").status_code == 403
    assert client.post(f"/kb/proposals/{pid}/approve", data={"note": ""}).status_code == 403
    assert client.post(f"/kb/proposals/{pid}/reject", data={"note": "no"}).status_code == 403
    with app.app_context():
        assert db.session.get(ArticleProposal, pid).status == "pending"
        with pytest.raises(PermissionError):
            do_approve_proposal(_user("tina"), db.session.get(ArticleProposal, pid), None)


def test_grader_reads_but_cannot_propose(kb_setup, client, auth):
    """Any role reads the KB; a grader may not propose (403), and an anonymous visitor is sent to log in."""
    assert client.get("/kb").status_code == 302
    auth.login("gina")
    assert client.get("/kb").status_code == 200
    assert client.get("/kb/en/invoice").status_code == 200
    assert client.post("/kb/en/invoice/propose", data=_propose_form()).status_code == 403
    assert client.get("/kb/new").status_code == 403


def test_reject_needs_a_note_and_leaves_the_article(kb_setup, client, auth):
    """Rejecting without a note is refused; with one, the proposal is rejected and the article unchanged."""
    app = kb_setup
    with app.app_context():
        p = do_propose_edit(
            _user("tina"), _article("en", "invoice"), "Invoices", "Call us.", [], "billing", "en", "shorter"
        )
        pid = p.id
        with pytest.raises(KbError):
            do_reject_proposal(_user("leo"), p, "  ")
    auth.login("leo")
    client.post(f"/kb/proposals/{pid}/reject", data={"note": "Too short: keep the steps."})
    with app.app_context():
        p = db.session.get(ArticleProposal, pid)
        assert (p.status, p.review_note) == ("rejected", "Too short: keep the steps.")
        assert _article("en", "invoice").version == 1
        with pytest.raises(KbError, match="already rejected"):
            do_approve_proposal(_user("leo"), p, None)
    auth.logout()
    auth.login("tina")
    assert "Too short: keep the steps." in client.get("/kb").get_data(as_text=True)


def test_stale_proposal_is_refused(kb_setup):
    """Two edits written against v1: after the first is approved, the second would undo it, so it is refused."""
    with kb_setup.app_context():
        tina, leo = _user("tina"), _user("leo")
        a = _article("en", "exchange")
        p1 = do_propose_edit(tina, a, a.title, a.body + " Keep the box.", a.tags, a.category_code, "en", None)
        p2 = do_propose_edit(tina, a, a.title, a.body + " Photos help.", a.tags, a.category_code, "en", None)
        do_approve_proposal(leo, p1, None)
        with pytest.raises(KbError, match="version 2"):
            do_approve_proposal(leo, p2, None)
        assert db.session.get(ArticleProposal, p2.id).status == "pending"
        assert _article("en", "exchange").body.endswith("Keep the box.")


def test_new_article_proposal_publishes_version_one(kb_setup, client, auth):
    """A proposed new article gets a slug from its title, version 1, and is searchable once approved."""
    app = kb_setup
    auth.login("tina")
    r = client.post(
        "/kb/new",
        data={
            "title": "Gift cards cannot be refunded",
            "category": "billing",
            "lang": "en",
            "tags": "gift card",
            "body": "Gift card balances are not refundable.",
            "reason": "customers ask",
        },
    )
    assert r.status_code == 302
    auth.logout()
    auth.login("leo")
    with app.app_context():
        pid = db.session.scalar(select(ArticleProposal.id))
    review = client.get("/kb/proposals").get_data(as_text=True)
    assert "New article" in review and "+Gift card balances are not refundable." in review
    client.post(f"/kb/proposals/{pid}/approve", data={"note": ""})
    with app.app_context():
        a = _article("en", "gift-cards-cannot-be-refunded")
        assert a is not None and a.version == 1 and a.tags == ["gift card"]
        assert kb.search("gift card balance", "en")[0]["slug"] == "gift-cards-cannot-be-refunded"
    assert client.get("/kb/en/gift-cards-cannot-be-refunded").status_code == 200


def test_proposal_input_is_checked(kb_setup, client, auth):
    """Empty titles, unknown categories or languages, no-op edits and over-long bodies are refused."""
    with kb_setup.app_context():
        tina = _user("tina")
        a = _article("en", "invoice")
        with pytest.raises(KbError, match="title is empty"):
            do_propose_edit(tina, a, " ", "x", [], "billing", "en", None)
        with pytest.raises(KbError, match="unknown category"):
            do_propose_edit(tina, None, "T", "B", [], "nope", "en", None)
        with pytest.raises(KbError, match="unknown language"):
            do_propose_edit(tina, None, "T", "B", [], "billing", "fr", None)
        with pytest.raises(KbError, match="changes nothing"):
            do_propose_edit(tina, a, a.title, a.body, a.tags, a.category_code, "en", None)
        with pytest.raises(KbError, match="limit"):
            do_propose_edit(tina, None, "T", "x" * 20001, [], "billing", "en", None)
        with pytest.raises(PermissionError):
            do_propose_edit(_user("gina"), a, "T", "B", [], "billing", "en", None)
    auth.login("tina")
    r = client.post("/kb/en/invoice/propose", data=_propose_form(title="", category="billing"))
    assert r.status_code == 400  # the page comes back with the typed text and the error
    assert "补充运费险理赔的说法" in r.get_data(as_text=True)
    assert client.get("/kb/en/no-such-article").status_code == 404
    assert client.get("/kb/fr/invoice").status_code == 404


def test_pages_escape_article_text(kb_setup, client, auth):
    """Article bodies render as escaped text in paragraphs; search results on /kb mark the terms safely."""
    with kb_setup.app_context():
        f.article("html", "en", "billing", "Coupon <b>rules</b>", "First <i>para</i> line\nsecond line\n\nNext para.")
    auth.login("tina")
    page = client.get("/kb/en/html").get_data(as_text=True)
    assert "&lt;i&gt;para&lt;/i&gt; line<br>second line</p>" in page and "<p>Next para.</p>" in page
    assert "Coupon &lt;b&gt;rules&lt;/b&gt;" in page
    listing = client.get("/kb?kb_lang=en&q=coupon").get_data(as_text=True)
    assert "<mark>Coupon</mark> &lt;b&gt;rules&lt;/b&gt;" in listing
    assert "Returns" in client.get("/kb?kb_lang=en").get_data(as_text=True)
    assert "退换货" in client.get("/kb?kb_lang=zh_CN").get_data(as_text=True)


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_review_forms_need_the_csrf_token(kb_setup, client, auth):
    """With CSRF on, an approval without the token is refused and the page's own form carries one."""
    app = kb_setup
    with app.app_context():
        p = do_propose_edit(
            _user("tina"), _article("en", "invoice"), "Invoices", "Email us.", [], "billing", "en", None
        )
        pid = p.id
    login = client.get("/login").get_data(as_text=True)
    token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"username": "leo", "password": "pass1234", "csrf_token": token})
    assert client.post(f"/kb/proposals/{pid}/approve", data={"note": ""}).status_code == 400
    with app.app_context():
        assert db.session.get(ArticleProposal, pid).status == "pending"
    page = client.get("/kb/proposals").get_data(as_text=True)
    assert f'action="/kb/proposals/{pid}/approve"' in page and 'name="csrf_token"' in page
