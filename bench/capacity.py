"""Many simulated browsers polling at the real intervals, and the poll rate at which p95 passes 100 ms.

Used by bench/bench_polls.py. A browser here is one open page polling its callback at that page's
interval plus the toast poll every page has (`defaults.TOAST_POLL_MS`), over fresh connections as a
browser behind a proxy would. The browsers are spread over a few client processes so that the
client is not the bottleneck of a small box (it still shares the cores with the servers: on a
2-core machine, every figure includes its share).

`knee` raises the offered poll rate step by step, FoldDeck and the floor (an empty Dash callback
under the same gunicorn) interleaved at each step, and returns for each the rate at which the
p95 latency passes 100 ms (linear between the last step under and the first step over).
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import time

LIMIT_MS = 100.0


async def _browser(port: int, headers: dict, poll, interval_s: float, until: float, out: list, errs: list):
    await asyncio.sleep(random.random() * interval_s)
    while time.time() < until:
        body = json.dumps(poll.body()).encode()
        head = (f"POST /_dash-update-component HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "Connection: close\r\n\r\n").encode()
        t = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head + body)
            await writer.drain()
            data = await reader.read()
            writer.close()
            status = int(data.split(b" ", 2)[1])
            out.append((time.perf_counter() - t) * 1000)
            if status >= 400:
                errs.append(status)
            elif status == 200:
                payload = data.split(b"\r\n\r\n", 1)[1]
                if b"transfer-encoding: chunked" not in data[:2000].lower():
                    poll.follow(json.loads(payload))
        except (OSError, ValueError, IndexError) as exc:
            errs.append(type(exc).__name__)
        await asyncio.sleep(interval_s)


def _copy(template):
    poll = template.__class__.__new__(template.__class__)
    poll.dep, poll.interval, poll.values = template.dep, template.interval, dict(template.values)
    return poll


async def _browsers(port: int, sessions: list[dict], polls: list[tuple], n: int, seconds: float, first: int = 0,
                    toast: tuple | None = None):
    out: list[float] = []
    errs: list = []
    until = time.time() + seconds
    tasks = []
    for i in range(first, first + n):
        template, interval_s = polls[i % len(polls)]
        headers = sessions[i % len(sessions)]
        tasks.append(_browser(port, headers, _copy(template), interval_s, until, out, errs))
        if toast:
            tasks.append(_browser(port, headers, _copy(toast[0]), toast[1], until, out, errs))
    await asyncio.gather(*tasks)
    return out, errs


def _client(args, q) -> None:
    q.put(asyncio.run(_browsers(*args)))


def browsers(port: int, sessions: list[dict], polls: list[tuple], n: int, seconds: float,
             toast: tuple | None = None, processes: int = 2) -> dict:
    """Run `n` browsers for `seconds` from `processes` client processes; return polls/s, p50/p95/max, errors."""
    q = multiprocessing.Queue()
    share = [n // processes + (1 if k < n % processes else 0) for k in range(processes)]
    starts = [sum(share[:k]) for k in range(processes)]
    procs = [multiprocessing.Process(target=_client, args=((port, sessions, polls, m, seconds, s, toast), q))
             for m, s in zip(share, starts, strict=True) if m]
    for p in procs:
        p.start()
    out, errs = [], []
    for _ in procs:
        o, e = q.get()
        out += o
        errs += e
    for p in procs:
        p.join()
    out.sort()
    return {"n": len(out), "rate": len(out) / seconds, "p50": out[len(out) // 2] if out else float("nan"),
            "p95": out[int(len(out) * 0.95)] if out else float("nan"), "max": out[-1] if out else float("nan"),
            "errors": len(errs), "error_kinds": sorted({str(e) for e in errs})[:5]}


def per_browser_rate(polls: list[tuple], toast: tuple | None) -> float:
    """Return the polls per second one browser of the mix sends."""
    rate = sum(1 / interval for _, interval in polls) / len(polls)
    return rate + (1 / toast[1] if toast else 0.0)


def _passes(res: dict) -> bool:
    return res["p95"] <= LIMIT_MS and res["errors"] <= 0.01 * max(1, res["n"])


def _crossing(steps: list[dict]) -> float | None:
    """Return the rate at which p95 passes the limit, between the last step under and the first over."""
    for lo, hi in zip(steps, steps[1:], strict=False):
        if _passes(lo) and not _passes(hi):
            span = hi["p95"] - lo["p95"]
            frac = (LIMIT_MS - lo["p95"]) / span if span > 0 and hi["p95"] > LIMIT_MS else 1.0
            return lo["rate"] + max(0.0, min(1.0, frac)) * (hi["rate"] - lo["rate"])
    if steps and not _passes(steps[0]):
        return 0.0
    return None  # never passed within the steps tried


def knee(sides: dict[str, dict], rates: list[float], seconds: float, before=None, after=None) -> dict:
    """Return, per side, the steps run and the poll rate at which p95 passes 100 ms.

    `sides`: name -> {"port", "sessions", "polls", "toast"}. Each step offers the same poll rate to
    every side still under the limit, the order alternating per step; `before`/`after` run around
    each side's step (FoldDeck's writers).
    """
    steps: dict[str, list[dict]] = {name: [] for name in sides}
    for k, rate in enumerate(rates):
        live = [n for n in sides if not steps[n] or _passes(steps[n][-1])]
        if not live:
            break
        for name in (live if k % 2 == 0 else live[::-1]):
            side = sides[name]
            n = max(1, round(rate / per_browser_rate(side["polls"], side.get("toast"))))
            if before:
                before(name)
            try:
                res = browsers(side["port"], side["sessions"], side["polls"], n, seconds, side.get("toast"))
            finally:
                if after:
                    after(name)
            res.update(offered=rate, browsers=n)
            steps[name].append(res)
            print(f"  {name:<9} offered {rate:6.0f}/s ({n:5d} browsers): {res['rate']:6.0f} polls/s  "
                  f"p50 {res['p50']:7.1f}  p95 {res['p95']:7.1f}  max {res['max']:7.1f} ms  errors {res['errors']}",
                  flush=True)
    return {name: {"steps": s, "knee": _crossing(s)} for name, s in steps.items()}
