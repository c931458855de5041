#!/usr/bin/env python3
"""bench_cluster: the router's figures on a real cluster (frontends,
workers running the fake backend, PostgreSQL, NATS), printed.

    BUILD=build python3 tests/bench/bench_cluster.py [figure...]

Figures (all by default): warm (PostgreSQL statements per warm request),
death (a worker killed: time until no new request goes to it, and until
it is offline on every frontend), register (1,000 simulated nodes
registering: time until all are listed on both frontends).  The PLACE
round trip over the router's socket is tests/bench/bench_router.c's.
Everything shares one machine: read orders of magnitude.
"""
import os
import re
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from rcluster import (Cluster, Load, log, now, replicas,  # noqa: E402
                      wait_for)


def warm_statements():
    """PostgreSQL statements per warm request (must be 0)."""
    with Cluster("bench_warm", pg_stat_statements=True) as c:
        c.psql("CREATE EXTENSION pg_stat_statements")
        c.model("m", "max_concurrency = 8;")
        fe = c.frontend("a")
        for i in range(2):
            c.worker("w%d" % i, fe)
        c.wait_healthy(fe, 2)
        st, body = fe.chat("m")
        assert st == 200, body
        time.sleep(2)

        def window(fn):
            c.psql("SELECT pg_stat_statements_reset()")
            c.psql("SELECT pg_stat_reset()")
            t0 = now()
            n = fn()
            d = now() - t0
            time.sleep(0.5)   # statistics are flushed asynchronously
            rows = c.psql(
                "SELECT calls, regexp_replace(left(query, 70), '\\s+', ' ',"
                " 'g') FROM pg_stat_statements WHERE query NOT LIKE "
                "'%pg_stat%' ORDER BY calls DESC")
            commits = int(c.psql("SELECT xact_commit FROM pg_stat_database"
                                 " WHERE datname = 'postgres'")[0][0])
            return n, d, sum(int(r[0]) for r in rows), commits, rows

        def requests():
            n = 0
            lock = threading.Lock()

            def client():
                nonlocal n
                for _ in range(1000):
                    s, _ = fe.chat("m")
                    assert s == 200
                    with lock:
                        n += 1
            ts = [threading.Thread(target=client) for _ in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return n
        n, d, busy, busy_commits, rows = window(requests)
        _, _, idle, idle_commits, idle_rows = window(
            lambda: time.sleep(d) or 0)
        log("warm path: %d requests in %.1f s (%.0f/s)" % (n, d, n / d))
        log("  statements while serving them: %d (%d commits); the same "
            "time idle: %d (%d commits)" % (busy, busy_commits, idle,
                                            idle_commits))
        log("  => PostgreSQL statements per warm request: %.3f" %
            max(0.0, (busy - idle) / n))
        log("  statements in the busy window (background work: leader "
            "lock check, HTTP heartbeats, events):")
        for r in rows[:8]:
            log("    %6s  %s" % (r[0], r[1]))


STAMP = re.compile(r"^<\d>(\S+)Z ")


def stamp(line):
    m = STAMP.match(line)
    t = m.group(1)
    return time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) - \
        time.timezone + float("0" + t[19:])


def worker_death():
    """Kill -9 a worker: until no new request goes to it, until offline
    on every frontend; under load (first failure) and idle (heartbeats)."""
    with Cluster("bench_death") as c:
        c.model("m", "replicas = { min = 3; max = 3; };\n"
                "max_concurrency = 4;", options=["delay_ms:50"])
        a = c.frontend("a")
        b = c.frontend("b")
        ws = [c.worker("w%d" % i, a) for i in range(5)]
        c.wait_healthy(a, 5)
        c.wait_healthy(b, 5)
        wait_for(lambda: len(replicas(a, "m")) == 3 and
                 len(replicas(b, "m")) == 3, 30, "3 replicas")
        hosts = [n for n, _ in replicas(a, "m")]
        for label, loaded in (("under load", True), ("idle", False)):
            victim = [w for w in ws if w.name in hosts and w.proc.alive()][0]
            load = Load([a, b], "m", 8).start() if loaded else None
            time.sleep(1.5)
            wall = time.time()
            t0 = now()
            victim.proc.kill9()
            suspect, offline = {}, {}
            while len(offline) < 2 and now() - t0 < 20:
                for fe in (a, b):
                    n = c.node_by_name(fe, victim.name)
                    if fe.name not in suspect and (n["suspect"] or
                                                   n["status"] != "healthy"):
                        suspect[fe.name] = now() - t0
                    if fe.name not in offline and n["status"] == "offline":
                        offline[fe.name] = now() - t0
                time.sleep(0.01)
            if load:
                load.stop()
                ok, failed = load.counts()
            # The first failure each api reported, from the logs.
            first = {}
            for fe in (a, b):
                t = [stamp(x) for x in fe.proc.log_text().splitlines()
                     if " on %s failed" % victim.name in x and
                     STAMP.match(x)]
                t = [x for x in t if x >= wall - 0.5]
                if t:
                    first[fe.name] = min(t) - wall
            log("worker killed %s:" % label)
            if first:
                log("  first failed request (then no new request goes to "
                    "it) after: %s" % ", ".join(
                        "%s %.0f ms" % (k, v * 1000)
                        for k, v in sorted(first.items())))
            log("  no new requests (suspect) on each frontend after: %s" %
                ", ".join("%s %.0f ms" % (k, v * 1000)
                          for k, v in sorted(suspect.items())))
            log("  offline on each frontend after: %s" %
                ", ".join("%s %.2f s" % (k, v)
                          for k, v in sorted(offline.items())))
            if load:
                log("  client requests meanwhile: %d ok, %d failed" %
                    (ok, len(failed)))
            # replicas_min brings the third replica back elsewhere.
            wait_for(lambda: len(replicas(a, "m")) == 3 and
                     len(replicas(b, "m")) == 3, 30, "3 replicas again: "
                     "%s %s" % (replicas(a, "m", None),
                                replicas(b, "m", None)))
            hosts = [n for n, _ in replicas(a, "m")]


def registration(n=1000, clients=16):
    """n simulated nodes register (POST /api/node/register, as workers
    do): time until every one is listed on both frontends."""
    with Cluster("bench_register") as c:
        a = c.frontend("a", {"LOCALAI_OFFLINE_AFTER": "10m"})
        b = c.frontend("b", {"LOCALAI_OFFLINE_AFTER": "10m"})
        lat = []
        lock = threading.Lock()

        def client(k):
            for i in range(k, n, clients):
                body = {"name": "sim%04d" % i, "address": "10.0.%d.%d:50051"
                        % (i // 250, i % 250), "total_ram": 16 << 30,
                        "available_ram": 16 << 30, "node_type": "backend"}
                t = now()
                st, _, _ = a.http("POST", "/api/node/register", body,
                                  {"Authorization": "Bearer " + c.token})
                assert st == 201, st
                with lock:
                    lat.append(now() - t)
        t0 = now()
        ts = [threading.Thread(target=client, args=(k,))
              for k in range(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        t_reg = now() - t0
        seen = {}
        while len(seen) < 2 and now() - t0 < 120:
            for fe in (a, b):
                if fe.name not in seen and len(fe.nodes()) == n:
                    seen[fe.name] = now() - t0
            time.sleep(0.05)
        lat.sort()
        log("%d nodes registering (%d clients, through frontend a):" %
            (n, clients))
        log("  all registrations answered after %.2f s (%.0f/s); latency "
            "p50 %.1f ms, p99 %.1f ms" % (t_reg, n / t_reg,
                                          lat[len(lat) // 2] * 1000,
                                          lat[len(lat) * 99 // 100] * 1000))
        log("  all listed by GET /api/nodes after: %s" % ", ".join(
            "%s %.2f s" % (k, v) for k, v in sorted(seen.items())))


FIGURES = {"warm": warm_statements, "death": worker_death,
           "register": registration}


def main():
    names = sys.argv[1:] or list(FIGURES)
    for name in names:
        FIGURES[name]()


if __name__ == "__main__":
    main()
