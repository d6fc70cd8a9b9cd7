"""Client processes for bench/chat_load.py: each runs one asyncio loop of Socket.IO customers and agents
(bench/_chat_clients.py) and does what the parent tells it over a pipe, so that no single client process's
event loop limits the run. Agent i and customer j live in process i % N and j % N.

Commands (the parent sends one to every process and waits for each answer):
``login`` agents, ``ramp`` new customers in at a rate and wait until their chats run, ``churn`` for a window,
``balance`` (how many acked messages and deliveries so far, for the final drain), ``stop`` writing,
``close`` (hang up and hand back the whole ``Log``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import time

from _chat_clients import Agent, Customer, Log, Plan, now, watch_loop_lag


class _Worker:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.log = Log()
        self.stop, self.close_ev, self.lag_stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.agents: list[Agent] = []
        self.customers: list[Customer] = []
        self.tasks: list[asyncio.Task] = []

    async def login(self, agents: list[tuple[int, str]], password: str, gate: int) -> dict:
        sem = asyncio.Semaphore(max(1, gate))

        async def one(index: int, name: str) -> None:
            agent = Agent(self.plan, self.log, name, password, index)
            async with sem:
                await agent.start()
            self.agents.append(agent)

        await asyncio.gather(*(one(i, n) for i, n in agents))
        return {"agents": len(self.agents)}

    def ready(self) -> int:
        return sum(1 for c in self.customers if c.ready)

    async def ramp(self, indices: list[int], rate: float) -> dict:
        first = len(self.customers)
        for idx in indices:
            c = Customer(self.plan, self.log, idx, self.stop, self.close_ev)
            self.customers.append(c)
            self.tasks.append(asyncio.create_task(c.run()))
            await asyncio.sleep(1.0 / rate if rate > 0 else 0)
        # Wait (bounded) until every new customer has its chat started, or has given up.
        deadline = now() + 120
        new = list(range(first, len(self.customers)))
        while now() < deadline and not all(self.customers[i].ready or self.tasks[i].done() for i in new):
            await asyncio.sleep(0.2)
        return {"ready": self.ready()}

    async def churn(self, rate: float, seconds: float) -> dict:
        """For ``seconds``: every 1/rate s a random customer in a running chat ends it and starts a new one."""
        end = now() + seconds
        while (left := end - now()) > 0:
            await asyncio.sleep(min(left, 1.0 / rate) if rate > 0 else left)
            candidates = [c for c in self.customers if c.ready and not c.churn]
            if rate > 0 and candidates and now() < end:
                random.choice(candidates).churn = True
        return {"ready": self.ready()}

    def balance(self) -> dict:
        log = self.log
        return {
            "sends_acked": sum(1 for _, _, a in log.sends if a is not None),
            "reached_agent": len({cid for cid, _ in log.reached_agent}),
            "replies_acked": sum(1 for _, _, a in log.replies if a is not None),
            "reached_customer": len({m for m, _ in log.reached_customer}),
        }

    async def close(self) -> Log:
        self.log.stopping = True
        self.close_ev.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 60)
        await asyncio.wait_for(asyncio.gather(*(a.close() for a in self.agents), return_exceptions=True), 30)
        self.lag_stop.set()
        return self.log

    async def serve(self, conn) -> None:
        loop = asyncio.get_running_loop()
        lag = asyncio.create_task(watch_loop_lag(self.log, self.lag_stop))
        while True:
            cmd, args = await loop.run_in_executor(None, conn.recv)
            try:
                if cmd == "login":
                    out = await self.login(*args)
                elif cmd == "ramp":
                    out = await self.ramp(*args)
                elif cmd == "churn":
                    out = await self.churn(*args)
                elif cmd == "peek":
                    out = self.log
                elif cmd == "balance":
                    out = self.balance()
                elif cmd == "stop":
                    self.stop.set()
                    out = {}
                elif cmd == "close":
                    log = await self.close()
                    await lag
                    conn.send(("ok", log))
                    return
                else:
                    out = {"error": f"unknown command {cmd!r}"}
            except Exception as e:  # the parent reports it and stops the run
                conn.send(("error", f"{cmd}: {type(e).__name__}: {e}"))
                continue
            conn.send(("ok", out))


def _main(conn, plan: Plan, seed: int) -> None:
    random.seed(seed)
    asyncio.run(_Worker(plan).serve(conn))


class ClientPool:
    """The parent's handle on ``count`` client processes."""

    def __init__(self, count: int, plan: Plan, seed: int | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited loop or sockets
        seed = int(time.time()) if seed is None else seed
        self.conns, self.procs = [], []
        for i in range(count):
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=_main, args=(theirs, plan, seed + i), name=f"chat-clients-{i}", daemon=True)
            p.start()
            theirs.close()
            self.conns.append(mine)
            self.procs.append(p)

    def __len__(self) -> int:
        return len(self.conns)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def each(self, command: str, args_for, timeout: float = 600) -> list:
        """Send ``(command, args_for(i))`` to process i, for every i; return their answers in order."""
        for i, conn in enumerate(self.conns):
            conn.send((command, args_for(i)))
        out = []
        deadline = time.monotonic() + timeout
        for i, conn in enumerate(self.conns):
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"client process {i} did not answer {command!r} in {timeout:.0f}s")
            status, value = conn.recv()
            if status != "ok":
                raise RuntimeError(f"client process {i}: {value}")
            out.append(value)
        return out

    def all(self, command: str, *args, timeout: float = 600) -> list:
        return self.each(command, lambda _i: args, timeout)

    def terminate(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(5)
        for conn in self.conns:
            conn.close()


def share(items: list, count: int, i: int) -> list:
    """Item j goes to process j % count."""
    return items[i::count]


def default_processes(customers: int, agents: int) -> int:
    """One client process per ~600 sockets, at most one per core plus one (a loop past ~600 busy sockets lags)."""
    return max(1, min((os.cpu_count() or 1) + 1, -(-(customers + agents) // 600)))
