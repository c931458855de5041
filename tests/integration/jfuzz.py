"""jfuzz: mutations of JSON messages for the control-plane fuzz tests
(cluster_fuzz_bus.test, cluster_fuzz_worker.test).  Deterministic from the
random.Random it is given, so that a seed repeats a run.
"""
import json


def junk_value(rnd, ids):
    kind = rnd.randrange(12)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.choice([True, False])
    if kind == 2:
        return rnd.choice([0, -1, 1, 2**31, 2**63 - 1, -2**63, 2**53 + 1])
    if kind == 3:
        return rnd.uniform(-1e308, 1e308)
    if kind == 4:
        return ""
    if kind == 5:
        return "x" * rnd.choice([63, 64, 65, 127, 128, 255, 256, 4096,
                                 70000])
    if kind == 6:
        return "".join(chr(rnd.choice([0x0, 0x1, 0x7f, 0xe9, 0x4e2d,
                                       0x1f600, 0x22, 0x5c, 0x2f]))
                       for _ in range(rnd.randrange(1, 40)))
    if kind == 7:
        return rnd.choice(ids)
    if kind == 8:
        return "../" * rnd.randrange(1, 5) + "etc/passwd"
    if kind == 9:
        return [junk_value(rnd, ids) for _ in range(rnd.randrange(4))]
    if kind == 10:
        return {"a": junk_value(rnd, ids)}
    return rnd.randrange(-5, 1 << 40)


def mutate(rnd, o, ids, depth=0):
    """A mutated deep copy of o."""
    if isinstance(o, dict):
        out = {}
        for k, v in o.items():
            r = rnd.random()
            if r < 0.08:
                continue                        # key dropped
            if r < 0.25:
                out[k] = junk_value(rnd, ids)   # value replaced
            else:
                out[k] = mutate(rnd, v, ids, depth + 1)
        if rnd.random() < 0.1:
            out[rnd.choice(["extra", "node_id", "replicas", "state",
                            "model"])] = junk_value(rnd, ids)
        return out
    if isinstance(o, list):
        items = [mutate(rnd, v, ids, depth + 1) for v in o]
        if items and rnd.random() < 0.2:
            items = items * rnd.randrange(2, 600)   # many entries
        if rnd.random() < 0.1:
            items.append(junk_value(rnd, ids))
        return items
    if rnd.random() < 0.15:
        return junk_value(rnd, ids)
    return o


def encode(rnd, o):
    """o as bytes, sometimes broken; never over NATS's 1 MB payload limit."""
    data = json.dumps(o)
    if len(data) > 900000:
        data = data[:900000]
    r = rnd.random()
    if r < 0.05:
        data = data[:rnd.randrange(len(data) + 1)]     # cut short
    elif r < 0.08:
        data = "".join(chr(rnd.randrange(32, 127))
                       for _ in range(rnd.randrange(200)))
    return data.encode("utf-8", "surrogatepass")
