"""What an agent's words do: dialogue acts (offline sentence embeddings + a classifier trained on the packs'
examples + the pack lexicon, with negation handled explicitly) and the facts they state. One reading, shared by
the simulated customers and grading. See README "How the sandbox understands the trainee"."""


def init_app(app) -> None:
    from . import cli, models  # noqa: F401  (models: so create_all sees the table)
    from .embedding import check_package

    # A missing or corrupt model package is a start-up error naming the package, never a silent fall back.
    check_package(app.config.get("KEFU_EMBEDDINGS", "use"))
    cli.register(app)
    from scenarios.loader import add_pack_hook

    from .store import pack_hook

    add_pack_hook(app, pack_hook)
