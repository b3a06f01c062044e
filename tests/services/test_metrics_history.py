"""Tiered history with synthetic time: append, roll up, prune, choose a tier, downsample."""
from __future__ import annotations

import json

import pytest

from services.metrics import history
from services.metrics.history import Retention, Tier
from services.metrics.model import Disk, Gpu, HostSnapshot, down, series

T0 = 1_700_000_000 // 3600 * 3600  # an hour boundary, so bucket arithmetic is easy to read
RET = Retention()  # defaults: 24 h raw @ 5 s, 30 d minutes, 365 d hours


def snap(host: str, ts: float, cpu: float, gpus: int = 1) -> HostSnapshot:
    return HostSnapshot(host=host, ts=ts, cpu_percent=cpu, mem_used_bytes=2 * 2**30, mem_total_bytes=8 * 2**30,
                        disks=[Disk("/", 50, 100)],
                        gpus=[Gpu(i, "A100", f"GPU-{i}", util=cpu, mem_used_mib=1000.0 * i, mem_total_mib=81920,
                                  temp_c=40, power_w=100 + i, power_limit_w=400) for i in range(gpus)])


def fill(conn, host: str, start: float, seconds: int, step: int = 5, cpu=lambda t: (t // 60) % 100):
    for t in range(int(start), int(start) + seconds, step):
        history.append(conn, [snap(host, t, float(cpu(t)))])


def count(conn, tier: Tier, host: str = "h") -> int:
    return conn.execute("SELECT count(*) FROM metric_samples WHERE tier = ? AND host = ?", (tier, host)).fetchone()[0]


def test_series_keys():
    s = series(snap("h", T0, 12.34, gpus=2))
    assert s == {"c": 12.3, "m": 25.0, "mu": 2.0, "d0": 50.0, "g0u": 12.3, "g0m": 0.0, "g0t": 40.0, "g0p": 100.0,
                 "g1u": 12.3, "g1m": 1000.0, "g1t": 40.0, "g1p": 101.0}


def test_down_hosts_write_no_rows(conn):
    assert history.append(conn, [down("h", T0, "gone"), snap("k", T0, 1.0)]) == 1
    assert count(conn, Tier.RAW, "h") == 0 and count(conn, Tier.RAW, "k") == 1


def test_rollup_averages_complete_buckets_only(conn):
    # 2.5 hours of 5 s ticks; CPU = 10 * (second-of-minute // 30): the minute mean is 5
    fill(conn, "h", T0, 9000, cpu=lambda t: 10 * ((t % 60) // 30))
    now = T0 + 9000 + 20  # inside minute 150, hour 2
    written = history.rollup(conn, ["h"], now)
    assert count(conn, Tier.MINUTE) == 150 and count(conn, Tier.HOUR) == 2 and written == 152
    rows = conn.execute("SELECT ts, data FROM metric_samples WHERE tier = 1 AND host = 'h' ORDER BY ts").fetchall()
    assert rows[0]["ts"] == T0 and rows[-1]["ts"] == T0 + 149 * 60
    assert {json.loads(r["data"])["c"] for r in rows} == {5.0}
    hour = json.loads(conn.execute("SELECT data FROM metric_samples WHERE tier = 2 AND ts = ?", (T0 + 3600,))
                      .fetchone()["data"])
    assert hour["c"] == 5.0 and hour["g0p"] == 100.0
    # resumes where it stopped: nothing new until another minute completes, then exactly one bucket
    assert history.rollup(conn, ["h"], now + 5) == 0
    fill(conn, "h", T0 + 9000, 60)
    assert history.rollup(conn, ["h"], T0 + 9060 + 1) == 1


def test_prune_keeps_each_tier_for_its_retention(conn):
    ret = Retention(raw_s=3600, minute_s=3 * 3600, hour_s=10 * 3600, raw_step_s=5)
    fill(conn, "h", T0, 6 * 3600, step=30)
    history.rollup(conn, ["h"], T0 + 6 * 3600)
    assert (count(conn, Tier.RAW), count(conn, Tier.MINUTE), count(conn, Tier.HOUR)) == (720, 360, 6)
    now = T0 + 6 * 3600
    history.prune(conn, ret, now)
    oldest = {t: conn.execute("SELECT min(ts) FROM metric_samples WHERE tier = ?", (t,)).fetchone()[0] for t in Tier}
    assert oldest[Tier.RAW] == now - 3600 and count(conn, Tier.RAW) == 120
    assert oldest[Tier.MINUTE] == now - 3 * 3600 and count(conn, Tier.MINUTE) == 180
    assert count(conn, Tier.HOUR) == 6
    history.prune(conn, ret, now + 8 * 3600)  # later: hours 0-3 age out of the 10 h hour tier
    assert count(conn, Tier.HOUR) == 2 and count(conn, Tier.RAW) == 0


@pytest.mark.parametrize("span, tier", [(900, Tier.RAW), (3600, Tier.RAW), (6 * 3600, Tier.RAW),
                                        (24 * 3600, Tier.MINUTE), (7 * 86400, Tier.HOUR), (30 * 86400, Tier.HOUR)])
def test_range_reads_the_right_tier(span, tier):
    now = T0 + 400 * 86400
    assert history.choose_tier(span, now - span, RET, now) == tier


def test_range_older_than_minute_retention_reads_hours():
    now = T0
    ret = Retention(raw_s=3600, minute_s=2 * 3600, hour_s=86400, raw_step_s=5)
    assert history.choose_tier(3 * 3600, now - 3 * 3600, ret, now) == Tier.HOUR


def test_query_downsamples_to_the_point_cap(conn):
    fill(conn, "h", T0, 6 * 3600)  # 4,320 raw ticks
    h = history.query(conn, "h", 6 * 3600, T0 + 6 * 3600, RET, max_points=1000)
    assert h.tier == Tier.RAW
    xs, ys = h.series["c"]
    assert 900 <= len(xs) <= 1000 and all(y is not None for y in ys)
    assert xs == sorted(xs) and xs[0] >= T0 and xs[-1] <= T0 + 6 * 3600
    # averages, not picks: each bucket's mean lies within the raw values it covers
    assert abs(sum(ys) / len(ys) - sum((t // 60) % 100 for t in range(T0, T0 + 21600, 5)) / 4320) < 1.0
    assert set(h.series) == {"c", "m", "mu", "d0", "g0u", "g0m", "g0t", "g0p"}


def test_query_small_range_keeps_every_tick(conn):
    fill(conn, "h", T0, 900)
    h = history.query(conn, "h", 900, T0 + 899, RET)
    xs, ys = h.series["c"]
    assert xs == list(range(T0, T0 + 900, 5))  # below the cap every tick is a point at its own time
    assert ys[:12] == [(T0 // 60) % 100] * 12 and ys[12] == (T0 // 60 + 1) % 100


def test_query_24h_reads_minutes(conn):
    fill(conn, "h", T0, 3 * 3600, step=60)  # raw rows every minute are enough for the rollup
    history.rollup(conn, ["h"], T0 + 3 * 3600)
    h = history.query(conn, "h", 86400, T0 + 3 * 3600, RET)
    assert h.tier == Tier.MINUTE
    width = -(-86400 // 1000)  # 24 h over 1000 points: 87 s buckets, so 180 minutes merge to fewer points
    assert len(h.series["c"][0]) == len({(t - h.start) // width for t in range(T0, T0 + 3 * 3600, 60)})


def test_gap_while_down_breaks_the_line(conn):
    fill(conn, "h", T0, 300)
    fill(conn, "h", T0 + 900, 300)  # ten minutes without rows
    xs, ys = history.query(conn, "h", 1200, T0 + 1200, RET).series["c"]
    assert ys.count(None) == 1
    hole = ys.index(None)
    assert xs[hole - 1] < T0 + 300 <= xs[hole] < T0 + 900 <= xs[hole + 1]
