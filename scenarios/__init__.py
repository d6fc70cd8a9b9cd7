"""Content packs: the pydantic schema, the YAML loader, the DB upsert, the cached registry and `flask content`."""


def init_app(app) -> None:
    from accounts.demo import register_demo_content
    from contacts.lifecycle import register_wrap_up_codes

    from . import cli, models  # noqa: F401  (models: so create_all sees the scenario tables)
    from .registry import wrap_up_code_list

    cli.register(app)
    register_wrap_up_codes(wrap_up_code_list)  # a wrap-up is checked against the loaded pack's codes
    register_demo_content("content packs", cli.demo_packs)  # `flask demo seed` loads the packs first
