"""Content packs: the pydantic schema, the YAML loader, the DB upsert, the cached registry and `flask content`."""


def init_app(app) -> None:
    from . import cli, models  # noqa: F401  (models: so create_all sees the scenario tables)

    cli.register(app)
