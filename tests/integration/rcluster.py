"""rcluster: a throwaway localai cluster for the router's integration tests
and benchmarks (tests/integration/router_*.test, tests/bench/bench_router).

It starts its own PostgreSQL (initdb as the postgres user, Unix socket in a
temporary directory) and nats-server on free ports, so that fault tests can
stop, restart and kill them; real `localai frontend` and `localai worker`
processes against them; and the fake backend (tests/fakes/fakebackend.c)
as the workers' only installed backend.  Everything it starts is stopped
and its directory removed when the Cluster is closed (use it as a context
manager), however the test ends.

    with Cluster("router_e2e") as c:
        c.model("fake", "max_concurrency = 1;")
        a = c.frontend("a"); b = c.frontend("b")
        w = [c.worker("w%d" % i, a) for i in range(3)]
        c.wait_healthy(a, 3)
        st, body = a.chat("fake")

Standard library only: http.client (never a proxy), threads for
concurrency.  Each process writes its log to <dir>/<name>.log; on failure
Cluster.dump_logs() prints their tails.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.environ.get("TOP", os.getcwd())
BUILD = os.environ.get("BUILD", "build")
LOCALAI = os.path.join(TOP, BUILD, "bin", "localai")
FAKE = os.path.join(TOP, BUILD, "tests", "fakes", "fakebackend")
# A sanitizer build is several times slower: scale the timeouts.
SLOW = 3.0 if "asan" in BUILD else 1.0


def log(*a):
    print(*a, flush=True)


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_port(gport, count):
    """A free port outside a worker's backend ports [gport, gport+count),
    which its configuration rightly refuses for the HTTP address."""
    while True:
        p = free_port()
        if not gport <= p < gport + count:
            return p


def now():
    return time.monotonic()


def wait_for(pred, timeout, what, step=0.05):
    """Poll pred() until it returns a true value; that value, or Fail."""
    end = now() + timeout * SLOW
    last = None
    while True:
        try:
            v = pred()
        except (OSError, ValueError, http.client.HTTPException) as e:
            v, last = None, e
        if v:
            return v
        if now() > end:
            raise Fail("timed out (%.1f s) waiting for %s%s" %
                       (timeout * SLOW, what, " (%s)" % last if last else ""))
        time.sleep(step)


def request(method, url, body=None, headers=None, timeout=60):
    """One HTTP request: (status, headers dict (lower-case), body bytes).
    Raises OSError on a transport failure."""
    assert url.startswith("http://")
    hostport, _, path = url[7:].partition("/")
    conn = http.client.HTTPConnection(hostport, timeout=timeout)
    try:
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, "/" + path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class Proc:
    """A localai process (its own session: pgid == pid)."""

    def __init__(self, name, argv, env, logpath):
        self.name = name
        self.logpath = logpath
        # A restarted process appends to the same log: its text starts
        # here.
        self.log_start = os.path.getsize(logpath) \
            if os.path.exists(logpath) else 0
        self.logf = open(logpath, "ab")
        self.p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                  stdout=self.logf, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def kill9(self):
        """SIGKILL the supervisor; its children follow (PDEATHSIG)."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.p.wait(timeout=10)

    def stop(self, timeout=10):
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.p.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.logf.close()

    def log_text(self):
        """This process's log (not an earlier run's in the same file)."""
        with open(self.logpath, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode("utf-8", "replace")


class Frontend:
    def __init__(self, cluster, name, port, proc):
        self.c = cluster
        self.name = name
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.proc = proc

    def wait_ready(self):
        """Until the api processes and their router (admin API) answer,
        3 in a row (the api processes share the socket: any may answer).
        Not /readyz: that also wants a healthy node."""
        def ready():
            for _ in range(3):
                if self.http("GET", "/healthz", timeout=2)[0] != 200 or \
                        self.admin("GET", "/api/nodes")[0] != 200:
                    return False
            return True
        wait_for(ready, 30, "frontend %s to be ready" % self.name, 0.1)

    def http(self, method, path, body=None, headers=None, timeout=60):
        return request(method, self.url + path, body, headers, timeout)

    def admin(self, method, path, body=None, key=None, timeout=30):
        """The admin API: (status, parsed JSON or None)."""
        h = {"Authorization": "Bearer " + (key or self.c.admin_key)}
        st, _, data = self.http(method, path, body, h, timeout)
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            return st, None

    def nodes(self):
        st, j = self.admin("GET", "/api/nodes")
        check(st == 200, "GET /api/nodes: %s %s" % (st, j))
        return j

    def models(self):
        st, j = self.admin("GET", "/api/models")
        check(st == 200, "GET /api/models: %s %s" % (st, j))
        return {m["name"]: m for m in j}

    def events(self, limit=1000):
        st, j = self.admin("GET", "/api/events?limit=%d" % limit)
        check(st == 200, "GET /api/events: %s %s" % (st, j))
        return j

    def chat(self, model, content="hello", stream=False, timeout=60,
             extra=None):
        """A chat completion: (status, body text).  Transport errors come
        back as status 0."""
        body = {"model": model, "stream": stream,
                "messages": [{"role": "user", "content": content}]}
        body.update(extra or {})
        try:
            st, _, data = self.http("POST", "/v1/chat/completions", body,
                                    timeout=timeout)
            return st, data.decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as e:
            return 0, "transport error: %s" % e

    def metrics(self):
        """Prometheus text -> {"name{labels}": value}."""
        st, _, data = self.http("GET", "/metrics")
        check(st == 200, "GET /metrics: %s" % st)
        out = {}
        for line in data.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
        return out

    def metric_sum(self, name):
        return sum(v for k, v in self.metrics().items()
                   if k == name or k.startswith(name + "{"))

    def is_leader(self):
        t = self.proc.log_text()
        a = t.rfind("this frontend is the health leader")
        b = t.rfind("this frontend is no longer the health leader")
        return a != -1 and a > b


class Worker:
    def __init__(self, name, proc, gport, env):
        self.name = name
        self.proc = proc
        self.gport = gport
        self.env = env


class Cluster:
    def __init__(self, name, pg=True, nats=True, pg_stat_statements=False):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="rc-%s." % name)
        os.chmod(self.dir, 0o755)
        self.token = "reg-" + os.urandom(8).hex()
        self.admin_key = "adm-" + os.urandom(8).hex()
        self.procs = []
        self.frontends = []
        self.workers = []
        self.pg_url = None
        self.nats_proc = None
        self.models_dir = os.path.join(self.dir, "models")
        os.makedirs(self.models_dir)
        self.pss = pg_stat_statements
        if pg:
            self.pg_init()
            self.pg_start()
        if nats:
            self.nats_port = free_port()
            self.nats_url = "nats://127.0.0.1:%d" % self.nats_port
            self.nats_start()

    # ---- lifetime ------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            log("FAIL: %s" % (ev,))
            self.dump_logs()
        self.close()
        if et is None:
            self.check_sanitizers()
        return False

    SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                 "runtime error:", "WARNING: ThreadSanitizer")

    def check_sanitizers(self):
        """A sanitizer report in any process's log fails the test (the
        supervisors restart a crashed child, so it would go unseen)."""
        bad = []
        for name, texts in self.logs.items():
            for text in texts:
                for marker in self.SANITIZER:
                    i = text.find(marker)
                    if i != -1:
                        bad.append("%s: %s" % (name, text[max(0, i - 200):
                                                            i + 8000]))
                        break
        if bad:
            raise Fail("sanitizer reports:\n" + "\n".join(bad))

    def close(self):
        for p in reversed(self.procs):
            try:
                if p.alive():
                    os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            p.stop()
        self.nats_stop()
        if self.pg_url is not None:
            self.pg_ctl("stop", "-m", "immediate", check_rc=False)
        self.logs = {}
        for p in self.procs:
            try:
                self.logs.setdefault(p.name, []).append(p.log_text())
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self, lines=60):
        for p in self.procs:
            try:
                t = p.log_text().splitlines()
            except OSError:
                continue
            log("==== %s (%s)" % (p.name, p.logpath))
            for line in t[-lines:]:
                log(line)

    # ---- PostgreSQL ----------------------------------------------------
    def pg_ctl(self, *args, check_rc=True):
        r = subprocess.run(["runuser", "-u", "postgres", "--",
                            os.path.join(self.pg_bin, "pg_ctl"),
                            "-D", self.pg_data] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check_rc and r.returncode != 0:
            raise Fail("pg_ctl %s: %s" % (args[0], r.stdout.decode()))

    def pg_init(self):
        self.pg_bin = subprocess.check_output(
            ["pg_config", "--bindir"]).decode().strip()
        pgdir = os.path.join(self.dir, "pg")
        self.pg_data = os.path.join(pgdir, "data")
        self.pg_sock = os.path.join(pgdir, "sock")
        os.makedirs(self.pg_data)
        os.makedirs(self.pg_sock)
        subprocess.check_call(["chown", "-R", "postgres:", pgdir])
        self.pg_port = free_port()
        subprocess.check_call(
            ["runuser", "-u", "postgres", "--",
             os.path.join(self.pg_bin, "initdb"), "-D", self.pg_data,
             "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
             "--no-sync", "--no-instructions"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(self.pg_data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = ''\nport = %d\n"
                    "unix_socket_directories = '%s'\nfsync = off\n"
                    "synchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 300\n" % (self.pg_port, self.pg_sock))
            if self.pss:
                f.write("shared_preload_libraries = 'pg_stat_statements'\n"
                        "pg_stat_statements.track = all\n")
        self.pg_url = "postgresql:///postgres?host=%s&port=%d&user=postgres" \
            % (self.pg_sock, self.pg_port)

    def pg_start(self):
        self.pg_ctl("start", "-w", "-l", os.path.join(self.dir, "pg",
                                                      "server.log"))

    def pg_stop(self):
        """Fast shutdown: clients are disconnected at once."""
        self.pg_ctl("stop", "-w", "-m", "fast")

    def psql(self, sql):
        """Run SQL; the output rows (tab-separated, unaligned)."""
        r = subprocess.run(
            [os.path.join(self.pg_bin, "psql"), "-XAtq", "-F", "\t",
             "-h", self.pg_sock, "-p", str(self.pg_port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise Fail("psql %r: %s" % (sql, r.stderr.decode()))
        return [line.split("\t") for line in
                r.stdout.decode().splitlines() if line]

    # ---- NATS ------------------------------------------------------------
    def nats_start(self):
        logpath = os.path.join(self.dir, "nats.log")
        self.nats_proc = subprocess.Popen(
            ["nats-server", "-a", "127.0.0.1", "-p", str(self.nats_port),
             "-l", logpath], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.nats_port),
                                         0.5).close()
                return True
            except OSError:
                return False
        wait_for(up, 10, "nats-server")

    def nats_stop(self):
        if self.nats_proc is not None and self.nats_proc.poll() is None:
            self.nats_proc.terminate()
            try:
                self.nats_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nats_proc.kill()
                self.nats_proc.wait()
        self.nats_proc = None

    # ---- localai -----------------------------------------------------------
    def model(self, name, extra="", backend="fake", options=()):
        """A model config for the fake backend (options: LoadModel's)."""
        opts = ""
        if options:
            opts = "options = [ %s ];\n" % ", ".join(
                '"%s"' % o for o in options)
        with open(os.path.join(self.models_dir, name + ".conf"), "w") as f:
            f.write('name = "%s";\nbackend = "%s";\nmodel = "%s-model";\n'
                    '%s%s\n' % (name, backend, name, opts, extra))

    def frontend(self, name, env=None, wait=True):
        port = free_port()
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        e = dict(os.environ)
        e.update({
            "LOCALAI_DATABASE_URL": self.pg_url,
            "LOCALAI_NATS_URL": self.nats_url,
            "LOCALAI_ADDRESS": "127.0.0.1:%d" % port,
            "LOCALAI_REGISTRATION_TOKEN": self.token,
            "LOCALAI_ADMIN_KEY": self.admin_key,
            "LOCALAI_AUTO_APPROVE_NODES": "true",
            "LOCALAI_STATE_DIR": d,
            "LOCALAI_MODELS_PATH": self.models_dir,
            "LOCALAI_API_WORKERS": "2",
        })
        e.update(env or {})
        p = Proc(name, [LOCALAI, "-f", "/dev/null", "frontend"], e,
                 os.path.join(self.dir, name + ".log"))
        self.procs.append(p)
        fe = Frontend(self, name, port, p)
        fe.env = e
        self.frontends.append(fe)
        if wait:
            fe.wait_ready()
        return fe

    def worker(self, name, fe, env=None):
        gport = free_port()
        d = os.path.join(self.dir, name)
        bdir = os.path.join(d, "backends", "fake")
        os.makedirs(bdir, exist_ok=True)
        os.makedirs(os.path.join(d, "models"), exist_ok=True)
        os.symlink(FAKE, os.path.join(bdir, "run"))
        with open(os.path.join(bdir, "metadata.json"), "w") as f:
            f.write('{"name":"fake","version":"test",'
                    '"capabilities":["llm"]}')
        e = dict(os.environ)
        e.update({
            "LOCALAI_REGISTER_TO": fe.url,
            "LOCALAI_NATS_URL": self.nats_url,
            "LOCALAI_REGISTRATION_TOKEN": self.token,
            "LOCALAI_SERVE_ADDR": "127.0.0.1:%d" % gport,
            "LOCALAI_PORT_COUNT": "20",
            "LOCALAI_HTTP_ADDR": "127.0.0.1:%d" % http_port(gport, 20),
            "LOCALAI_NODE_NAME": name,
            "LOCALAI_STATE_DIR": d,
            "LOCALAI_BACKENDS_PATH": os.path.join(d, "backends"),
            "LOCALAI_MODELS_PATH": os.path.join(d, "models"),
        })
        e.update(env or {})
        p = Proc(name, [LOCALAI, "-f", "/dev/null", "worker"], e,
                 os.path.join(self.dir, name + ".log"))
        self.procs.append(p)
        w = Worker(name, p, gport, e)
        self.workers.append(w)
        return w

    def restart_worker(self, w):
        """Start a stopped (or killed) worker again, same settings."""
        w.proc.stop()
        w.proc = Proc(w.name, [LOCALAI, "-f", "/dev/null", "worker"], w.env,
                      w.proc.logpath)
        self.procs.append(w.proc)

    def restart_frontend(self, fe):
        fe.proc.stop()
        fe.proc = Proc(fe.name, fe.proc.p.args, fe.env, fe.proc.logpath)
        self.procs.append(fe.proc)
        fe.wait_ready()

    def wait_healthy(self, fe, n, timeout=30):
        """Until fe lists n healthy, non-suspect nodes."""
        def ok():
            ns = fe.nodes()
            return sum(1 for x in ns if x["status"] == "healthy"
                       and not x["suspect"]) == n
        wait_for(ok, timeout, "%d healthy nodes on %s" % (n, fe.name), 0.1)

    def node_by_name(self, fe, name):
        for n in fe.nodes():
            if n["name"] == name:
                return n
        return None

    def leader(self):
        for fe in self.frontends:
            if fe.proc.alive() and fe.is_leader():
                return fe
        return None


def replicas(fe, model, state="ready"):
    """The model's replicas on fe: [(node_name, in_flight)]."""
    m = fe.models().get(model)
    if m is None:
        return []
    return [(r["node_name"], r["in_flight"]) for r in m["replicas"]
            if state is None or r["state"] == state]


class Load:
    """Background clients sending requests in a loop until stopped;
    counts outcomes by status."""

    def __init__(self, fes, model, clients, stream=False, timeout=60,
                 pause=0.0):
        self.fes = fes
        self.model = model
        self.stream = stream
        self.timeout = timeout
        self.pause = pause
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = []  # (time, frontend, status, body)
        self.threads = [threading.Thread(target=self.run, args=(i,),
                                         daemon=True)
                        for i in range(clients)]

    def run(self, i):
        fe = self.fes[i % len(self.fes)]
        while not self.stop_ev.is_set():
            st, body = fe.chat(self.model, "load %d" % i, self.stream,
                               self.timeout)
            with self.lock:
                if st == 200 and (not self.stream or "[DONE]" in body):
                    self.ok += 1
                else:
                    self.failed.append((now(), fe.name, st, body[:300]))
            if self.pause:
                time.sleep(self.pause)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=self.timeout + 10)

    def counts(self):
        with self.lock:
            return self.ok, list(self.failed)


def main(fn):
    """Run a test function, print ok or FAIL, exit accordingly."""
    if not os.path.exists(LOCALAI):
        log("SKIP: %s not built" % LOCALAI)
        sys.exit(0)
    try:
        fn()
    except Fail as e:
        log("FAIL: %s" % e)
        sys.exit(1)
    log("ok")
