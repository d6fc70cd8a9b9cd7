"""Knowledge base: categories, articles with versions, proposals a lead approves, and search (zh + en)."""


def init_app(app) -> None:
    """Register the pages and APIs, load jieba, and build the search index now when the tables exist.

    With ``KB_BUILD_AT_START`` false (the default under testing, where tables are made after the app) the
    index is built on first use instead.
    """
    from sqlalchemy import inspect

    from extensions import db

    from . import views
    from .search import init_search

    app.register_blueprint(views.bp)
    service = init_search(app)
    if app.config.get("KB_BUILD_AT_START", not app.testing):
        with app.app_context():
            if inspect(db.engine).has_table("kb_articles"):
                service.rebuild_from_db()
