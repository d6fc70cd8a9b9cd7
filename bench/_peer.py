"""The peer of bench/chat_load.py ``--peer``: a minimal Node socket.io relay (bench/peer/server.js) that records
each chat line in SQLite (WAL) before acking it, run with the same load right after the sandbox, and the
per-step comparison of the two (CPU-ms per message, send p99, the ratio sandbox / peer).

The peer's packages are installed from the npm registry only, once:  make bench-peer  (npm ci in bench/peer;
better-sqlite3 is compiled by node-gyp against the Debian nodejs headers, nothing prebuilt is fetched).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from _server import ServerProcess, wait_serving

PEER_DIR = Path(__file__).resolve().parent / "peer"


def peer_missing() -> str | None:
    """Why the peer cannot run here (no node, packages not installed), or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not all((PEER_DIR / "node_modules" / name).is_dir() for name in ("better-sqlite3", "socket.io")):
        return "the peer's packages are not installed: run `make bench-peer` (npm ci in bench/peer)"
    return None


class PeerProcess(ServerProcess):
    """``node bench/peer/server.js`` on 127.0.0.1:<port> with its SQLite file in a private folder. The same
    handle as the sandbox's server for the bench (start, stats, alive, log_problems, stop); no Redis."""

    def setup(self, timeout: float = 600) -> None:
        self.instance_dir.mkdir(parents=True, exist_ok=True)

    def start(self, timeout: float = 60) -> None:
        env = {
            **self.env,
            "PEER_PORT": str(self.port),
            "PEER_HOST": "127.0.0.1",
            "PEER_DB": str(self.instance_dir / "peer.sqlite"),
            "PEER_CHAT_CAPACITY": self.env["KEFU_CHAT_CAPACITY"],
        }
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["node", str(PEER_DIR / "server.js")],
                cwd=PEER_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_serving(self.url, self.proc, timeout, self.log_tail)

    def _find_redis(self) -> int | None:
        return None

    def _stop_redis(self) -> None:
        return None

    def log_problems(self) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        keys = ("Error", "error:", "Uncaught", "FATAL")
        return [ln for ln in text.splitlines() if any(k in ln for k in keys)]


def _f(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def compare(sandbox_rows: list[dict], peer_rows: list[dict]) -> list[dict]:
    """Per step run by both: CPU-ms per message of each, the ratio sandbox / peer, send p99 and server CPU."""
    peer_by_level = {r["customers"]: r for r in peer_rows}
    out = []
    for s in sandbox_rows:
        p = peer_by_level.get(s["customers"])
        if p is None:
            continue
        s_ms, p_ms = s["server_cpu_ms_per_msg"], p["server_cpu_ms_per_msg"]
        out.append(
            {
                "customers": s["customers"],
                "msgs_per_s": (s["msgs_per_s"], p["msgs_per_s"]),
                "cpu_ms_per_msg": (s_ms, p_ms),
                "ratio": s_ms / p_ms if s_ms and p_ms else None,
                "send_p99_ms": (s["send_rtt"]["p99"], p["send_rtt"]["p99"]),
                "server_cpu_pct": (s["server_cpu_pct"], p["server_cpu_pct"]),
                "other_cores": (s["other_cores"], p["other_cores"]),
                "errors_dropped_lost": tuple(
                    (sum(r["errors"].values()), r["dropped"], r.get("lost_c2a", 0) + r.get("lost_a2c", 0))
                    for r in (s, p)
                ),
            }
        )
    return out


def comparison_markdown(rows: list[dict]) -> str:
    head = (
        "| customers | msg/s sandbox / peer | CPU-ms per msg sandbox / peer | ratio | send p99 ms sandbox / peer | "
        "server CPU sandbox / peer | others (cores) | errors / dropped / lost sandbox; peer |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        (sm, pm), (sc, pc), (s99, p99) = r["msgs_per_s"], r["cpu_ms_per_msg"], r["send_p99_ms"]
        (scpu, pcpu), (so, po) = r["server_cpu_pct"], r["other_cores"]
        (se, sd, sl), (pe, pd, pl) = r["errors_dropped_lost"]
        lines.append(
            f"| {r['customers']} | {sm:.0f} / {pm:.0f} | {_f(sc)} / {_f(pc)} | {_f(r['ratio'], 1)} | "
            f"{_f(s99, 0)} / {_f(p99, 0)} | {scpu:.0f}% / {pcpu:.0f}% | {so:.2f} / {po:.2f} | "
            f"{se} / {sd} / {sl}; {pe} / {pd} / {pl} |"
        )
    return "\n".join(lines)


def node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "?"
