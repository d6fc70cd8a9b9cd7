"""Serve a real Kefu Sandbox for the Chromium tests: its own instance folder (SQLite + embedded Redis),
the demo packs and users loaded, the ticker and the simulator running. Run as a separate process so the
test process's own apps never share its Socket.IO server."""

from __future__ import annotations

import sys


def main(port: int) -> None:
    from app import create_app, start_background_services
    from extensions import db, socketio

    app = create_app()
    with app.app_context():
        db.create_all()
        from pathlib import Path

        from accounts.demo import seed_demo
        from scenarios.loader import load_pack_into_db

        root = Path(app.config["CONTENT_DIR"])
        for lang_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            load_pack_into_db(lang_dir)
        from theory.loader import load_all_banks

        load_all_banks()
        seed_demo()
    start_background_services(app)
    print("READY", flush=True)
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


if __name__ == "__main__":
    main(int(sys.argv[1]))
