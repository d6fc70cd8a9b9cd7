"""Write a validated pack into the database. Every writer compares before it assigns, so a second load of
the same pack leaves every row untouched (no version bumps, no updated_at changes)."""

from __future__ import annotations

from sqlalchemy import select

from clock import clock
from extensions import db
from knowledge_base.models import Article, ArticleVersion, Category

from .loader import LoadReport, Pack, PackError, pack_writers
from .models import PackRecord, RubricRecord, ScenarioRecord


def upsert_pack(pack: Pack, before_commit=None) -> LoadReport:
    """Upsert everything in ``pack`` in one transaction (with what ``before_commit`` adds); roll back and raise
    PackError on a conflict."""
    report = LoadReport(lang=pack.lang)
    try:
        _check_scenario_ids(pack)
        for write in pack_writers():  # tickets: the CRM customers and orders
            write(pack, report)
        _upsert_kb(pack, report)
        _upsert_scenarios(pack, report)
        _upsert_rubrics(pack, report)
        _upsert_pack_record(pack, report)
        if before_commit is not None:
            before_commit()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def assign_changed(obj, values: dict) -> bool:
    """Set the attributes that differ; True when anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _check_scenario_ids(pack: Pack) -> None:
    """Scenario ids are global: a zh_CN pack must not overwrite an en scenario of the same id."""
    ids = [s.id for s in pack.scenarios]
    rows = db.session.scalars(select(ScenarioRecord).where(ScenarioRecord.id.in_(ids))).all()
    clashes = [r.id for r in rows if r.lang != pack.lang]
    if clashes:
        raise PackError([f"{pack.path}: scenario id(s) {clashes} already belong to another language's pack"])


def _upsert_kb(pack: Pack, report: LoadReport) -> None:
    cats = {c.code: c for c in db.session.scalars(select(Category))}
    for rec in pack.kb.categories:
        values = {"name_zh": rec.zh, "name_en": rec.en, "parent_code": rec.parent}
        row = cats.get(rec.code)
        if row is None:
            db.session.add(Category(code=rec.code, **values))
            report.add("categories", "created")
        else:
            report.add("categories", "updated" if assign_changed(row, values) else "unchanged")

    lang = pack.lang
    articles = {a.slug: a for a in db.session.scalars(select(Article).where(Article.lang == lang))}
    for rec in pack.kb.articles:
        row = articles.get(rec.slug)
        content = {"title": rec.title, "body": rec.body, "tags": list(rec.tags)}
        if row is None:
            row = Article(
                slug=rec.slug, lang=lang, category_code=rec.category, customer_text=rec.customer, version=1, **content
            )
            row.versions.append(ArticleVersion(version=1, **content))
            db.session.add(row)
            report.add("articles", "created")
            continue
        moved = assign_changed(row, {"category_code": rec.category, "customer_text": rec.customer})
        if any(getattr(row, k) != v for k, v in content.items()):
            # Changed text is a new version: the old one stays readable in ArticleVersion.
            assign_changed(row, content)
            row.version = (row.version or 0) + 1
            row.updated_at = clock.timestamp()
            row.versions.append(ArticleVersion(version=row.version, **content))
            report.add("article_versions", "created")
            report.add("articles", "updated")
        else:
            report.add("articles", "updated" if moved else "unchanged")


def _upsert_scenarios(pack: Pack, report: LoadReport) -> None:
    ids = [s.id for s in pack.scenarios]
    rows = {r.id: r for r in db.session.scalars(select(ScenarioRecord).where(ScenarioRecord.id.in_(ids)))}
    for sc in pack.scenarios:
        values = {
            "lang": pack.lang,
            "channel": sc.channel,
            "level": sc.level,
            "queue": sc.queue,
            "title": sc.title,
            "family": sc.family,
            "data": sc.model_dump(mode="json"),
        }
        row = rows.get(sc.id)
        if row is None:
            db.session.add(ScenarioRecord(id=sc.id, **values))
            report.add("scenarios", "created")
        elif assign_changed(row, values):
            row.updated_at = clock.timestamp()
            report.add("scenarios", "updated")
        else:
            report.add("scenarios", "unchanged")


def _upsert_rubrics(pack: Pack, report: LoadReport) -> None:
    """Rubric ids are global like scenario ids; a changed rubric keeps its id (its ``version`` says which)."""
    ids = [r.id for r in pack.rubrics]
    rows = {r.id: r for r in db.session.scalars(select(RubricRecord).where(RubricRecord.id.in_(ids)))}
    clashes = [r.id for r in rows.values() if r.lang != pack.lang]
    if clashes:
        raise PackError([f"{pack.path}: rubric id(s) {clashes} already belong to another language's pack"])
    for rubric in pack.rubrics:
        values = {
            "version": rubric.version,
            "lang": rubric.lang,
            "channel": rubric.channel,
            "data": rubric.model_dump(mode="json"),
        }
        row = rows.get(rubric.id)
        if row is None:
            db.session.add(RubricRecord(id=rubric.id, **values))
            report.add("rubrics", "created")
        elif assign_changed(row, values):
            row.updated_at = clock.timestamp()
            report.add("rubrics", "updated")
        else:
            report.add("rubrics", "unchanged")


def _upsert_pack_record(pack: Pack, report: LoadReport) -> None:
    data = pack.info.model_dump(mode="json")
    row = db.session.get(PackRecord, pack.lang)
    if row is None:
        db.session.add(PackRecord(lang=pack.lang, data=data))
        report.add("pack", "created")
    elif row.data != data:
        row.data = data
        row.updated_at = clock.timestamp()
        report.add("pack", "updated")
    else:
        report.add("pack", "unchanged")
