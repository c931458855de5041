// Test-only stand-in for a localai frontend's admin side, until the full
// cluster is in main: it serves the Nodes page from its sources
// (api/ui/*, at the URLs api/ui/ui.c maps) and implements the admin API
// (the JSON the router produces) in memory, over a few seeded nodes.
// It never stands in for a shipped feature: the real-cluster browser test
// replaces it once api and router are merged.
//
//   node tests/e2e/nodes_fake_api.mjs [--port N] [--admin-key K]
//        [--port-file PATH] [--static]
//
// Listens on 127.0.0.1 (port 0 = any free port), prints
// "LISTENING <port>" and writes the port to --port-file.  --static
// freezes heartbeats and in-flight counts so output is reproducible.
// POST /_test/reset restores the seed.  Admin routes need
// "Authorization: Bearer <key>" (default key "test-admin-key").

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const uiDir = path.resolve(here, '../../api/ui');

const opts = { port: 0, adminKey: 'test-admin-key', portFile: null, static: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--port') opts.port = Number(process.argv[++i]);
  else if (a === '--admin-key') opts.adminKey = process.argv[++i];
  else if (a === '--port-file') opts.portFile = process.argv[++i];
  else if (a === '--static') opts.static = true;
  else { console.error('unknown option ' + a); process.exit(2); }
}

const GiB = 1024 ** 3;
const started = Date.now();
let db;

/* Now, or the seed time with --static, so that ages never change. */
function clock() { return opts.static ? db.seededAt : Date.now(); }

function id(n) { return `5f0c6d2e-0000-4000-8000-00000000000${n}`; }

function seed() {
  const now = Date.now();
  const node = (n, name, status, extra) => Object.assign({
    id: id(n), name, node_type: 'backend',
    address: `10.0.0.${n}:50051`, http_address: `10.0.0.${n}:50050`,
    status, suspect: false, labels: {},
    total_ram: 0, available_ram: 0, reserved_ram: 0,
    total_vram: 0, available_vram: 0, reserved_vram: 0,
    in_flight: 0, max_concurrency: 4, backends: [], gpu_vendor: '',
    created_at: new Date(now - n * 86400000).toISOString(),
    heartbeat_at: now - 400 * n,
  }, extra);
  db = {
    nodes: [
      node(1, 'gpu-01', 'healthy', {
        labels: { gpu: 'nvidia', zone: 'a' },
        total_ram: 64 * GiB, available_ram: 40 * GiB, reserved_ram: 4 * GiB,
        total_vram: 24 * GiB, available_vram: 6 * GiB, reserved_vram: 2 * GiB,
        in_flight: 3, max_concurrency: 8, backends: ['llama-cpp', 'whisper'], gpu_vendor: 'nvidia',
      }),
      node(2, 'cpu-02', 'healthy', {
        suspect: true, labels: { zone: 'b' },
        total_ram: 32 * GiB, available_ram: 20 * GiB,
        in_flight: 1, backends: ['llama-cpp', 'piper'],
      }),
      node(3, 'cpu-03', 'pending', {
        labels: { zone: 'b' }, total_ram: 16 * GiB, available_ram: 15 * GiB,
      }),
      node(4, 'edge-04', 'draining', {
        total_ram: 8 * GiB, available_ram: 5 * GiB, max_concurrency: 2, backends: ['piper'],
      }),
      node(5, 'old-05', 'offline', {
        total_ram: 16 * GiB, available_ram: 12 * GiB, backends: ['llama-cpp'],
        heartbeat_at: now - 312000,
      }),
    ],
    replicas: [
      { id: 'r1', node_id: id(1), model_name: 'llama-3-8b', address: '10.0.0.1:50061', state: 'ready', in_flight: 2, used_at: now - 1200 },
      { id: 'r2', node_id: id(1), model_name: 'whisper-1', address: '10.0.0.1:50062', state: 'ready', in_flight: 1, used_at: now - 8000 },
      { id: 'r3', node_id: id(1), model_name: 'qwen-7b', address: '10.0.0.1:50063', state: 'loading', in_flight: 0, used_at: null, progress: 42, load_started: now - 12000, job_id: 7 },
      { id: 'r4', node_id: id(2), model_name: 'llama-3-8b', address: '10.0.0.2:50061', state: 'ready', in_flight: 1, used_at: now - 3000 },
      { id: 'r5', node_id: id(2), model_name: 'phi-2', address: '10.0.0.2:50062', state: 'failed', in_flight: 0, used_at: null, error: 'LoadModel: not enough memory (needs 6.1 GiB)', failed_at: now - 600000 },
      { id: 'r6', node_id: id(4), model_name: 'tts-1', address: '10.0.0.4:50061', state: 'ready', in_flight: 0, used_at: now - 95000 },
    ],
    models: [
      { name: 'llama-3-8b', backend: 'llama-cpp', queue_length: 0, replicas_min: 1, replicas_max: 3 },
      { name: 'qwen-7b', backend: 'llama-cpp', queue_length: 2, replicas_min: 0, replicas_max: 1 },
      { name: 'phi-2', backend: 'llama-cpp', queue_length: 0, replicas_min: 0, replicas_max: 1 },
      { name: 'whisper-1', backend: 'whisper', queue_length: 0, replicas_min: 0, replicas_max: 1 },
      { name: 'tts-1', backend: 'piper', queue_length: 0, replicas_min: 0, replicas_max: 2 },
      { name: 'embed-small', backend: 'llama-cpp', queue_length: 0, replicas_min: 0, replicas_max: 1 },
    ],
    events: [],
    seededAt: now,
    nextEvent: 1,
    nextReplica: 7,
  };
  const ev = (ago, kind, n, model, actor, detail) => event(kind, n ? id(n) : null, model, actor, detail, now - ago);
  ev(3600000, 'node_registered', 5, null, 'node', { address: '10.0.0.5:50051' });
  ev(3000000, 'node_registered', 1, null, 'node', { address: '10.0.0.1:50051' });
  ev(2990000, 'node_approved', 1, null, 'admin', {});
  ev(2400000, 'node_registered', 2, null, 'node', { address: '10.0.0.2:50051' });
  ev(1800000, 'replica_ready', 1, 'llama-3-8b', 'router', { load_ms: 5120 });
  ev(900000, 'node_offline', 5, null, 'router', { last_heartbeat_s: 15 });
  ev(600000, 'replica_failed', 2, 'phi-2', 'node', { error: 'LoadModel: not enough memory' });
  ev(300000, 'node_draining', 4, null, 'admin', {});
  ev(120000, 'node_registered', 3, null, 'node', { address: '10.0.0.3:50051' });
  ev(20000, 'replica_loading', 1, 'qwen-7b', 'router', { queue: 2 });
}

function event(kind, nodeId, model, actor, detail, at) {
  db.events.push({
    id: db.nextEvent++, at: new Date(at || Date.now()).toISOString(), kind,
    node_id: nodeId, model: model || null, actor: actor || null, detail: detail || {},
  });
}

function nodeView(n) {
  const now = clock();
  const mine = db.replicas.filter((r) => r.node_id === n.id);
  const { heartbeat_at, ...rest } = n;
  return Object.assign(rest, {
    models_loaded: mine.filter((r) => r.state === 'ready' || r.state === 'loading').length,
    last_heartbeat_ms_ago: Math.max(0, now - heartbeat_at),
  });
}

// As the router gives them: progress in percent, error "" unless failed.
function replicaView(r) {
  const { used_at, load_started, failed_at, job_id, ...rest } = r;
  return Object.assign(rest, {
    last_used_ms_ago: used_at === null ? null : Math.max(0, clock() - used_at),
    progress: r.progress || 0, error: r.error || '',
  });
}

// The router's load_jobs: the load in progress, then the last failed one.
function loadJobs(name) {
  const now = clock();
  const jobs = [];
  const nodeName = (id) => (db.nodes.find((x) => x.id === id) || {}).name || '';
  for (const r of db.replicas.filter((x) => x.model_name === name && x.state === 'loading'))
    jobs.push({ state: 'loading', phase: 'installing', node_id: r.node_id, node_name: nodeName(r.node_id),
      progress: r.progress || 0, elapsed_ms: now - (r.load_started || now), started_at_ms: r.load_started || now,
      job_id: r.job_id || 0, request_id: '' });
  for (const r of db.replicas.filter((x) => x.model_name === name && x.state === 'failed'))
    jobs.push({ state: 'failed', node_id: r.node_id, node_name: nodeName(r.node_id), error: r.error,
      message: `model '${name}' failed to load on node '${nodeName(r.node_id)}': ${r.error}`,
      failed_ms_ago: now - (r.failed_at || now), failed_at_ms: r.failed_at || now });
  return jobs;
}

function modelView(m) {
  const reps = db.replicas.filter((r) => r.model_name === m.name).map((r) => {
    const n = db.nodes.find((x) => x.id === r.node_id);
    return { node_id: r.node_id, node_name: n ? n.name : '', address: r.address, state: r.state, in_flight: r.in_flight,
      progress: r.progress || 0, error: r.error || '' };
  });
  return Object.assign({}, m, { replicas: reps, load_jobs: loadJobs(m.name) });
}

/* The live part: heartbeats arrive, loads progress, in-flight moves. */
function tick() {
  const now = Date.now();
  for (const n of db.nodes)
    if (n.status !== 'offline' && n.status !== 'pending') n.heartbeat_at = now - Math.floor(Math.random() * 300);
    else if (n.status === 'pending') n.heartbeat_at = now - 200;
  for (const r of db.replicas) {
    if (r.state === 'loading') {
      r.progress = Math.min(95, (r.progress || 0) + 3);
    } else if (r.state === 'ready' && Math.random() < 0.3) {
      r.in_flight = Math.floor(Math.random() * 3);
      if (r.in_flight) r.used_at = now;
    }
  }
  for (const n of db.nodes)
    n.in_flight = db.replicas.filter((r) => r.node_id === n.id).reduce((s, r) => s + r.in_flight, 0);
}

function send(res, status, body, headers) {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, headers));
  res.end(data);
}

function error(res, status, message) {
  send(res, status, { error: { code: status, message, type: 'node_error' } });
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

function serveUi(res, name) {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || !TYPES[path.extname(name)]) return error(res, 404, 'not found');
  let data;
  try { data = fs.readFileSync(path.join(uiDir, name)); } catch (e) { return error(res, 404, 'not found'); }
  res.writeHead(200, {
    'Content-Type': TYPES[path.extname(name)],
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(data);
}

function metrics(res) {
  // Five requests a second since start (a stand-in for the router's sum).
  const total = Math.floor((Date.now() - started) / 200);
  const text = '# HELP localai_requests_total Requests answered, by model, endpoint and HTTP status code.\n' +
    '# TYPE localai_requests_total counter\n' +
    `localai_requests_total{model="llama-3-8b",endpoint="chat",code="200"} ${total}\n` +
    'localai_requests_total{model="whisper-1",endpoint="transcriptions",code="200"} 7\n';
  res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  res.end(text);
}

function authorized(req, res) {
  const h = req.headers.authorization || '';
  if (!h) { error(res, 401, 'admin key required'); return false; }
  if (h !== 'Bearer ' + opts.adminKey) { error(res, 401, 'invalid admin key'); return false; }
  return true;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c) => { data += c; if (data.length > 65536) reject(new Error('too large')); });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

async function jsonBody(req, res) {
  const text = await readBody(req);
  try { return text ? JSON.parse(text) : {}; } catch (e) { error(res, 400, 'invalid JSON body'); return null; }
}

function findNode(res, nid) {
  const n = db.nodes.find((x) => x.id === nid);
  if (!n) error(res, 404, 'node not found');
  return n;
}

/* approve / drain / resume: which statuses allow it, and the result. */
const TRANSITIONS = {
  approve: { from: ['pending'], to: 'healthy', event: 'node_approved', refuse: 'node is not pending' },
  drain: { from: ['healthy', 'draining'], to: 'draining', event: 'node_draining', refuse: 'only a healthy node can drain' },
  resume: { from: ['draining'], to: 'healthy', event: 'node_resumed', refuse: 'node is not draining' },
};

async function nodeRoutes(req, res, parts) {
  const nid = decodeURIComponent(parts[0]);
  const n = findNode(res, nid);
  if (!n) return;
  if (parts.length === 1) {
    if (req.method === 'GET') return send(res, 200, nodeView(n));
    if (req.method === 'DELETE') {
      db.nodes = db.nodes.filter((x) => x !== n);
      db.replicas = db.replicas.filter((r) => r.node_id !== n.id);
      event('node_removed', n.id, null, 'admin', { name: n.name });
      return send(res, 200, { id: n.id, status: 'removed', success: true });
    }
    return error(res, 405, 'method not allowed');
  }
  const what = parts[1];
  if (TRANSITIONS[what] && parts.length === 2) {
    if (req.method !== 'POST') return error(res, 405, 'method not allowed');
    const t = TRANSITIONS[what];
    if (!t.from.includes(n.status)) return error(res, 409, t.refuse);
    if (n.status !== t.to) event(t.event, n.id, null, 'admin', {});
    n.status = t.to;
    if (what === 'approve') n.heartbeat_at = clock() - 200;
    return send(res, 200, { id: n.id, status: n.status, success: true });
  }
  if (what === 'models' && parts.length === 2 && req.method === 'GET')
    return send(res, 200, db.replicas.filter((r) => r.node_id === n.id).map(replicaView));
  if (what === 'models' && parts[2] === 'unload' && parts.length === 3 && req.method === 'POST') {
    const body = await jsonBody(req, res);
    if (body === null) return;
    if (typeof body.model_name !== 'string' || !body.model_name) return error(res, 400, 'model_name is required');
    const r = db.replicas.find((x) => x.node_id === n.id && x.model_name === body.model_name);
    if (!r) return error(res, 404, `model ${body.model_name} is not loaded on ${n.name}`);
    r.state = 'stopping';
    event('replica_unloaded', n.id, r.model_name, 'admin', {});
    setTimeout(() => { db.replicas = db.replicas.filter((x) => x !== r); }, opts.static ? 0 : 1500);
    return send(res, 200, { success: true });
  }
  if (what === 'labels') return labelRoutes(req, res, n, parts);
  return error(res, 404, 'no such route');
}

async function labelRoutes(req, res, n, parts) {
  if (parts.length === 2 && req.method === 'GET') return send(res, 200, n.labels);
  if (parts.length === 2 && (req.method === 'PATCH' || req.method === 'PUT')) {
    const body = await jsonBody(req, res);
    if (body === null) return;
    if (typeof body !== 'object' || Array.isArray(body) || Object.values(body).some((v) => typeof v !== 'string'))
      return error(res, 400, 'labels must be an object of strings');
    n.labels = req.method === 'PUT' ? body : Object.assign({}, n.labels, body);
    event('node_labels', n.id, null, 'admin', body);
    return send(res, 200, n.labels);
  }
  if (parts.length === 3 && req.method === 'DELETE') {
    delete n.labels[decodeURIComponent(parts[2])];
    res.writeHead(204);
    return res.end();
  }
  return error(res, 405, 'method not allowed');
}

async function modelRoutes(req, res, parts) {
  if (parts.length === 0 && req.method === 'GET') return send(res, 200, db.models.map(modelView));
  const name = decodeURIComponent(parts[0] || '');
  const m = db.models.find((x) => x.name === name);
  if (parts.length === 2 && parts[1] === 'load' && req.method === 'POST') {
    if (!m) return error(res, 404, `model ${name} is not configured`);
    const host = db.nodes.filter((n) => n.status === 'healthy' && !db.replicas.some((r) => r.node_id === n.id && r.model_name === name))
      .sort((a, b) => b.available_ram - a.available_ram)[0];
    if (!host) return error(res, 503, 'no healthy node can hold the model');
    db.replicas.push({ id: 'r' + db.nextReplica++, node_id: host.id, model_name: name, address: host.address.replace(/:\d+$/, ':50070'), state: 'loading', in_flight: 0, used_at: null, progress: 0 });
    event('replica_loading', host.id, name, 'admin', {});
    return send(res, 202, { success: true, model: name, node_id: host.id, state: 'loading' });
  }
  return error(res, 404, 'no such route');
}

async function route(req, res) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  if (req.method === 'GET' && ['/app', '/app/', '/app/nodes', '/app/nodes/'].includes(p)) return serveUi(res, 'nodes.html');
  if (req.method === 'GET' && p.startsWith('/app/static/')) return serveUi(res, p.slice('/app/static/'.length));
  if (req.method === 'GET' && p === '/metrics') return metrics(res);
  if (req.method === 'POST' && p === '/_test/reset') { seed(); return send(res, 200, { success: true }); }
  if (!p.startsWith('/api/')) return error(res, 404, 'not found');
  if (!authorized(req, res)) return;
  const parts = p.split('/').filter(Boolean).slice(1);   // after "api"
  if (parts[0] === 'nodes' && parts.length === 1 && req.method === 'GET')
    return send(res, 200, db.nodes.slice().sort((a, b) => a.name.localeCompare(b.name)).map(nodeView));
  if (parts[0] === 'nodes' && parts.length >= 2) return nodeRoutes(req, res, parts.slice(1));
  if (parts[0] === 'models') return modelRoutes(req, res, parts.slice(1));
  if (parts[0] === 'events' && parts.length === 1 && req.method === 'GET') {
    const limit = Math.max(1, Math.min(1000, Number(url.searchParams.get('limit')) || 100));
    return send(res, 200, db.events.slice().reverse().slice(0, limit));
  }
  return error(res, 404, 'no such route');
}

seed();
if (!opts.static) setInterval(tick, 1000).unref();

const server = http.createServer((req, res) => {
  route(req, res).catch((e) => { if (!res.headersSent) error(res, 500, String(e.message || e)); });
});
server.listen(opts.port, '127.0.0.1', () => {
  const port = server.address().port;
  if (opts.portFile) fs.writeFileSync(opts.portFile, String(port));
  process.stdout.write(`LISTENING ${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); process.exit(0); });
