"""Screenshots of every page of every role in both languages, for reviewers: ``make screenshots`` (or
``python -m tests.e2e.screenshots [FOLDER]``, default ``docs/screenshots``). Starts its own sandbox (the e2e live
server: demo users and content, simulator on), serves a practice chat so the record pages have a contact, then
crawls each role's pages (tests/e2e/pages.py) and writes ``<lang>/<role>/<page>.png`` with an ``index.html``.
The README's per-role images (docs/role-*.png) are copied from the same run."""

from __future__ import annotations

import html
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .pages import LANGS, ROLES, crawl, page_kind

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "kefu-demo-2026"
README_SHOTS = {"trainee4": "/desk", "lead": "/floor", "grader": "/contacts/#/scorecard", "admin": "/admin/users"}


def _serve(inst: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "KEFU_INSTANCE": str(inst),
        "SECRET_KEY": "screenshots",
        "KEFU_ACW_SECONDS": "3",
        "PYTHONPATH": str(ROOT),
        "KEFU_SMTP_PORT": "0",
        "KEFU_EMAIL_CUSTOMER_PACE": "0.003",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    log = open(inst / "server.log", "w")  # noqa: SIM115  (held for the server's lifetime)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.live_server", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the sandbox did not start: see {inst / 'server.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the sandbox did not start in time")


def _login(page, base, user):
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_load_state()


def _chat(page, scenario, line):
    page.select_option("#practice-scenario", scenario)
    page.click("#practice-start")
    page.wait_for_function(
        "(sid) => [...window.kefuDesk.state.contacts.values()].some((e) => e.contact.scenario_id === sid"
        " && e.contact.status === 'active' && e.events.some((ev) => ev.type === 'message'))",
        arg=scenario,
        timeout=30000,
    )
    cid = page.evaluate(
        "(sid) => [...window.kefuDesk.state.contacts.values()].find((e) => e.contact.scenario_id === sid"
        " && e.contact.status === 'active').contact.id",
        scenario,
    )
    page.click(f"#contact-list li[data-contact-id='{cid}']")
    page.fill("#composer", line)
    page.click("#send")
    page.wait_for_timeout(3000)
    return cid


def _practice_chat(page, base):
    """Two simulated chats on trainee4's desk: one served and wrapped up (a graded contact for the record pages),
    one in progress (the desk has a conversation to show)."""
    page.goto(f"{base}/desk?lang=zh_CN")
    page.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    page.click("#go-available")
    done = _chat(page, "zh-points-rules", "您好，积分在结算时可以抵扣现金，100 积分抵 1 元。")
    page.select_option("#wrap-up-code", index=1)
    page.click("#wrap-up-go")
    page.wait_for_function(f"window.kefuDesk.state.contacts.get({done}).contact.status === 'closed'")
    _chat(page, "zh-delivery-status", "您好，很高兴为您服务！请问您的订单号是多少？")


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    inst = Path(tempfile.mkdtemp(prefix="kefu-shots-"))
    proc, base = _serve(inst)
    shots: list[tuple[str, str, str, str]] = []
    try:
        with sync_playwright() as p:
            for role in ROLES:
                ctx = p.chromium.launch_persistent_context(
                    str(inst / f"profile-{role}"),
                    executable_path=CHROMIUM,
                    headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream"],
                    viewport={"width": 1440, "height": 900},
                )
                page = ctx.new_page()
                _login(page, base, role)
                if role == "trainee4":
                    _practice_chat(page, base)
                for lang in LANGS:
                    for path in crawl(page, base, role, lang):
                        page.goto(f"{base}{path}?lang={lang}")
                        page.wait_for_timeout(700)
                        name = path.strip("/").replace("/", "_") or "home"
                        target = out / lang / role / f"{name}.png"
                        target.parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(target), full_page=True)
                        shots.append((lang, role, path, str(target.relative_to(out))))
                        if lang == "en" and README_SHOTS.get(role) == page_kind(path):
                            page.screenshot(path=str(out.parent / f"role-{role.rstrip('0123456789')}.png"))
                ctx.close()
    finally:
        proc.terminate()
        proc.wait(10)
    rows = "\n".join(
        f"<tr><td>{lang}</td><td>{role}</td><td>{html.escape(path)}</td>"
        f'<td><a href="{html.escape(rel)}"><img src="{html.escape(rel)}" width="320" alt=""></a></td></tr>'
        for lang, role, path, rel in shots
    )
    (out / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>Kefu Sandbox pages</title>'
        f"<table><tr><th>lang</th><th>role</th><th>page</th><th>screenshot</th></tr>{rows}</table>",
        encoding="utf-8",
    )
    print(f"{len(shots)} screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
