/*
 * localai Nodes page: plain JavaScript, no dependencies, no build step.
 *
 * Every POLL_MS it reads the admin API (GET /api/nodes, /api/models,
 * /api/events?limit=N, and /api/nodes/:id/models for each expanded row)
 * with the admin key kept in sessionStorage, and redraws the cards and
 * the views.  Requests per second come from successive reads of
 * /metrics: the change of the sum of localai_requests_total over the
 * reads of the last RPS_WINDOW_MS, divided by the time between the first
 * and the last of them (at least RPS_MIN_SPAN_MS apart; "–" until then,
 * or when /metrics cannot be read).  A sum that goes down (a restarted
 * frontend) starts the window again.
 *
 * Everything the server sends is put in the page with textContent or
 * attributes, never as HTML, so node names and labels cannot inject
 * markup.
 */
'use strict';

(function () {
  const POLL_MS = 2000;
  const EVENTS_LIMIT = 100;
  const KEY_STORE = 'localai.adminKey';
  const STALE_HEARTBEAT_MS = 5000;
  const RPS_WINDOW_MS = 10000;
  const RPS_MIN_SPAN_MS = 1500;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const state = {
    nodes: [],
    models: [],
    events: [],
    replicas: new Map(),   // node id -> array, or {error}
    expanded: new Set(),   // node ids whose replicas are shown
    view: 'nodes',
    samples: [],           // {sum, at} of recent /metrics reads
    rps: null,
    nodeNames: new Map(),  // id -> name of every node seen (for events)
    running: false,        // a refresh is in progress
    again: false,          // refresh once more when it ends
    timer: null,
    signedOut: false,      // the login prompt is up: do not poll
  };

  const $ = (id) => document.getElementById(id);

  /* ---- DOM helpers ---------------------------------------------------- */

  /* el('td', {class: 'x', title: 'y'}, child, 'text', …) */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function chevron() {
    const s = document.createElementNS(SVG_NS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('class', 'chev');
    s.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', 'M9 6l6 6-6 6');
    p.setAttribute('stroke-linecap', 'round');
    p.setAttribute('stroke-linejoin', 'round');
    s.append(p);
    return s;
  }

  function bar(cls, pct) {
    const s = el('span', { class: cls });
    s.style.width = Math.max(0, Math.min(100, pct)).toFixed(2) + '%';
    return s;
  }

  /* ---- formatting ----------------------------------------------------- */

  function fmtBytes(b) {
    if (!Number.isFinite(b) || b <= 0) return '0';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return (b >= 100 || i === 0 ? b.toFixed(0) : b.toFixed(1)) + ' ' + units[i];
  }

  function fmtAgo(ms) {
    if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return 'never';
    if (ms < 10000) return (ms / 1000).toFixed(1) + ' s';
    const s = Math.round(ms / 1000);
    if (s < 120) return s + ' s';
    const m = Math.round(s / 60);
    if (m < 120) return m + ' min';
    const h = Math.round(m / 60);
    if (h < 48) return h + ' h';
    return Math.round(h / 24) + ' d';
  }

  function parseTime(at) {
    if (typeof at === 'number') return new Date(at);
    const t = Date.parse(at);
    return Number.isNaN(t) ? null : new Date(t);
  }

  function pad2(n) { return String(n).padStart(2, '0'); }

  function fmtClock(d) {
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }

  function shortId(id) {
    return typeof id === 'string' && id.length > 12 ? id.slice(0, 8) : String(id || '');
  }

  /* ---- the admin API -------------------------------------------------- */

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function authHeaders() {
    const key = sessionStorage.getItem(KEY_STORE);
    return key ? { Authorization: 'Bearer ' + key } : {};
  }

  async function api(method, path, body) {
    const headers = Object.assign({ Accept: 'application/json' }, authHeaders());
    const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'The frontend cannot be reached');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!res.ok) {
      const msg = (data && data.error && data.error.message) ||
        (res.status === 401 ? 'The admin key was refused' : 'HTTP ' + res.status);
      throw new ApiError(res.status, msg);
    }
    return data;
  }

  /* A failed optional read shows empty data, unless auth or network failed. */
  function optional(fallback) {
    return (e) => {
      if (e.status === 401 || e.status === 0) throw e;
      return fallback;
    };
  }

  /* Sum of localai_requests_total in a /metrics text, or null. */
  function sumRequests(text) {
    const name = 'localai_requests_total';
    let sum = 0;
    let found = false;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const next = line.charAt(name.length);
      if (next !== '{' && next !== ' ') continue;
      const v = parseFloat(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(v)) { sum += v; found = true; }
    }
    return found || text.includes('# TYPE ' + name) ? sum : null;
  }

  async function readMetrics() {
    let sum = null;
    try {
      const res = await fetch('/metrics', { headers: authHeaders(), cache: 'no-store' });
      if (res.ok) sum = sumRequests(await res.text());
    } catch (e) {
      sum = null;
    }
    const now = performance.now();
    const samples = state.samples;
    if (sum === null) {
      state.samples = [];
      state.rps = null;
      return;
    }
    if (samples.length && sum < samples[samples.length - 1].sum) samples.length = 0;
    samples.push({ sum, at: now });
    while (samples.length > 2 && now - samples[1].at >= RPS_WINDOW_MS) samples.shift();
    const first = samples[0];
    if (now - first.at >= RPS_MIN_SPAN_MS)
      state.rps = (sum - first.sum) / ((now - first.at) / 1000);
  }

  /* ---- polling -------------------------------------------------------- */

  async function refresh() {
    if (state.running) { state.again = true; return; }
    state.running = true;
    clearTimeout(state.timer);
    try {
      const [nodes, models, events] = await Promise.all([
        api('GET', '/api/nodes'),
        api('GET', '/api/models').catch(optional([])),
        api('GET', '/api/events?limit=' + EVENTS_LIMIT).catch(optional([])),
      ]);
      state.nodes = Array.isArray(nodes) ? nodes : [];
      for (const n of state.nodes) state.nodeNames.set(n.id, n.name);
      state.models = Array.isArray(models) ? models : [];
      state.events = Array.isArray(events) ? events : [];
      await Promise.all([readReplicas(), readMetrics()]);
      setLive('ok', 'Updated ' + fmtClock(new Date()));
      render();
    } catch (e) {
      if (e.status === 401) {
        const hadKey = sessionStorage.getItem(KEY_STORE) !== null;
        sessionStorage.removeItem(KEY_STORE);
        showLogin(hadKey ? 'That admin key was refused.' : '');
      } else {
        setLive('down', e.status === 0 ? 'Disconnected, retrying…' : 'Error: ' + e.message);
      }
    } finally {
      state.running = false;
      if (state.again) {
        state.again = false;
        refresh();
      } else if (!state.signedOut) {
        state.timer = setTimeout(refresh, POLL_MS);
      }
    }
  }

  async function readReplicas() {
    const ids = new Set(state.nodes.map((n) => n.id));
    for (const id of [...state.expanded]) if (!ids.has(id)) state.expanded.delete(id);
    for (const id of [...state.replicas.keys()]) if (!state.expanded.has(id)) state.replicas.delete(id);
    await Promise.all([...state.expanded].map(async (id) => {
      try {
        const list = await api('GET', '/api/nodes/' + encodeURIComponent(id) + '/models');
        state.replicas.set(id, Array.isArray(list) ? list : []);
      } catch (e) {
        if (e.status === 401 || e.status === 0) throw e;
        state.replicas.set(id, { error: e.message });
      }
    }));
  }

  function setLive(kind, text) {
    const live = $('live');
    live.classList.toggle('ok', kind === 'ok');
    live.classList.toggle('down', kind === 'down');
    $('live-text').textContent = text;
  }

  /* ---- rendering ------------------------------------------------------ */

  /* Hidden views too: switching views then shows current data at once. */
  function render() {
    renderCards();
    renderNodes();
    renderModels();
    renderEvents();
  }

  function nodeStatus(n) {
    if (n.status === 'healthy' && n.suspect) return 'suspect';
    return ['healthy', 'draining', 'pending', 'offline'].includes(n.status) ? n.status : 'unknown';
  }

  function setCard(id, value) {
    const e = $(id);
    e.textContent = value;
    e.classList.toggle('zero', value === 0 || value === '0' || value === '–');
  }

  function renderCards() {
    const count = { healthy: 0, suspect: 0, draining: 0, pending: 0, offline: 0 };
    let models = 0;
    let inflight = 0;
    for (const n of state.nodes) {
      const s = nodeStatus(n);
      if (s in count) count[s]++;
      models += Number(n.models_loaded) || 0;
      inflight += Number(n.in_flight) || 0;
    }
    setCard('card-total', state.nodes.length);
    for (const k of Object.keys(count)) setCard('card-' + k, count[k]);
    setCard('card-models', models);
    setCard('card-inflight', inflight);
    const rps = state.rps;
    setCard('card-rps', rps === null ? '–' : rps < 10 ? rps.toFixed(1) : Math.round(rps));
    $('card-rps').title = rps === null ? 'Needs two reads of /metrics' : 'From localai_requests_total';
  }

  function statusPill(s) {
    return el('span', { class: 'pill pill-' + s, text: s });
  }

  function chips(items, cls) {
    if (!items.length) return el('span', { class: 'none', text: '—' });
    return el('div', { class: 'chips' }, items.map((t) => el('span', { class: 'chip ' + (cls || ''), text: t })));
  }

  /* used / reserved / free of one kind of memory, as a bar and a line. */
  function meter(total, available, reserved, extra) {
    total = Number(total) || 0;
    if (total <= 0) return el('span', { class: 'none', text: '—' });
    const avail = Math.max(0, Math.min(total, Number(available) || 0));
    const res = Math.max(0, Math.min(avail, Number(reserved) || 0));
    const used = total - avail;
    const free = avail - res;
    const title = 'used ' + fmtBytes(used) + ', reserved ' + fmtBytes(res) +
      ', free ' + fmtBytes(free) + ' of ' + fmtBytes(total) + (extra ? ' (' + extra + ')' : '');
    return el('div', { class: 'meter', title },
      el('div', { class: 'meter-bar' },
        bar('seg-used', used / total * 100), bar('seg-reserved', res / total * 100)),
      el('span', { class: 'meter-text' },
        el('b', { text: fmtBytes(used + res) }), ' / ' + fmtBytes(total)),
      res > 0 || extra ? el('span', { class: 'meter-note' },
        [extra, res > 0 ? fmtBytes(res) + ' reserved' : ''].filter(Boolean).join(' · ')) : null);
  }

  function load(inFlight, cap) {
    inFlight = Number(inFlight) || 0;
    cap = Number(cap) || 0;
    const wrap = el('div', { class: 'load num' }, el('span', { text: inFlight + ' / ' + (cap > 0 ? cap : '∞') }));
    if (cap > 0) {
      const b = el('div', { class: 'load-bar' + (inFlight >= cap ? ' full' : '') }, bar('', inFlight / cap * 100));
      wrap.append(b);
    }
    return wrap;
  }

  function actionButton(action, label, node, cls) {
    return el('button', {
      type: 'button', class: 'btn ' + (cls || ''), text: label,
      'aria-label': label + ' ' + node.name,
      dataset: { action, id: node.id, name: node.name },
    });
  }

  function nodeActions(n) {
    const b = [];
    if (n.status === 'pending') b.push(actionButton('approve', 'Approve', n, 'btn-approve'));
    if (n.status === 'healthy') b.push(actionButton('drain', 'Drain', n));
    if (n.status === 'draining') b.push(actionButton('resume', 'Resume', n));
    b.push(actionButton('remove', 'Remove', n, 'btn-quiet-danger'));
    return b;
  }

  function nodeRow(n) {
    const s = nodeStatus(n);
    const open = state.expanded.has(n.id);
    const labels = Object.entries(n.labels || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => k + '=' + v);
    const age = n.last_heartbeat_ms_ago;
    const stale = s !== 'offline' && Number.isFinite(age) && age > STALE_HEARTBEAT_MS;
    return el('tr', {
      class: 'node-row' + (open ? ' expanded' : '') + (s === 'offline' ? ' is-offline' : ''),
      tabindex: 0, 'aria-expanded': open ? 'true' : 'false',
      dataset: { nodeId: n.id, nodeName: n.name, status: s },
    },
      el('td', { class: 'col-expand' }, chevron()),
      el('td', { title: 'id ' + n.id },
        el('span', { class: 'node-name', text: n.name }),
        el('span', { class: 'node-sub', text: n.address || shortId(n.id) })),
      el('td', { class: 'status-cell' }, statusPill(s)),
      el('td', {}, chips(labels)),
      el('td', {}, meter(n.total_ram, n.available_ram, n.reserved_ram)),
      el('td', {}, meter(n.total_vram, n.available_vram, n.reserved_vram, n.gpu_vendor)),
      el('td', {}, load(n.in_flight, n.max_concurrency)),
      el('td', { class: 'num' + (stale ? ' stale' : ''), text: fmtAgo(age) + (Number.isFinite(age) ? ' ago' : '') }),
      el('td', {}, chips((n.backends || []).slice().sort(), 'chip-backend')),
      el('td', { class: 'actions' }, nodeActions(n)));
  }

  // A load's progress as the API gives it (percent, 0-100), or null.
  function percent(v) {
    const p = Number(v);
    return v === null || v === undefined || v === '' || !Number.isFinite(p) ? null : Math.max(0, Math.min(100, p));
  }

  // "loading" with a bar and "42%" (indeterminate when unknown).
  function progressEl(progress) {
    const p = percent(progress);
    const pb = el('span', { class: 'progress-bar' + (p === null ? ' indeterminate' : '') }, bar('', p === null ? 35 : p));
    return el('span', { class: 'progress' }, statusPill('loading'), pb,
      p === null ? null : el('span', { class: 'num', text: Math.round(p) + '%' }));
  }

  function replicaState(r) {
    const st = ['loading', 'ready', 'failed', 'stopping'].includes(r.state) ? r.state : 'unknown';
    const cell = el('td', {});
    cell.append(st === 'loading' ? progressEl(r.progress) : statusPill(st));
    const reason = r.error || r.reason || r.message;
    if (st === 'failed' && reason) cell.append(el('span', { class: 'reason', text: reason }));
    return cell;
  }

  function replicaTable(node) {
    const data = state.replicas.get(node.id);
    const box = el('div', { class: 'replicas' });
    if (data === undefined) {
      box.append(el('p', { class: 'empty', text: 'Loading replicas…' }));
      return box;
    }
    if (!Array.isArray(data)) {
      box.append(el('p', { class: 'empty', text: 'Cannot read replicas: ' + data.error }));
      return box;
    }
    if (data.length === 0) {
      box.append(el('p', { class: 'empty', text: 'No model is loaded on this node.' }));
      return box;
    }
    const rows = data.slice().sort((a, b) => String(a.model_name).localeCompare(String(b.model_name))).map((r) =>
      el('tr', { dataset: { model: r.model_name, state: r.state } },
        el('td', {}, el('span', { class: 'node-name', text: r.model_name })),
        replicaState(r),
        el('td', { class: 'num', text: String(Number(r.in_flight) || 0) }),
        el('td', { class: 'num', text: r.last_used_ms_ago === null || r.last_used_ms_ago === undefined ? 'never' : fmtAgo(r.last_used_ms_ago) + ' ago' }),
        el('td', {}, el('span', { class: 'mono', text: r.address || '—' })),
        el('td', { class: 'actions' }, el('button', {
          type: 'button', class: 'btn btn-quiet-danger', text: 'Unload',
          disabled: r.state === 'stopping',
          'aria-label': 'Unload ' + r.model_name + ' from ' + node.name,
          dataset: { action: 'unload', id: node.id, name: node.name, model: r.model_name },
        }))));
    box.append(el('table', {},
      el('thead', {}, el('tr', {}, ['Model', 'State', 'In flight', 'Last used', 'Address', ''].map((h) => el('th', { text: h })))),
      el('tbody', {}, rows)));
    return box;
  }

  function renderNodes() {
    const body = $('nodes-body');
    const frag = document.createDocumentFragment();
    const nodes = state.nodes.slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
    for (const n of nodes) {
      frag.append(nodeRow(n));
      if (state.expanded.has(n.id))
        frag.append(el('tr', { class: 'detail', dataset: { detailFor: n.id } }, el('td', { colspan: 10 }, replicaTable(n))));
    }
    body.replaceChildren(frag);
    $('nodes-empty').hidden = nodes.length > 0;
  }

  // One load job of the models view: in progress (waiting for memory, or
  // loading on a node with its progress and age) or the last failed one
  // (node, when, the backend's reason).
  function loadJob(j) {
    const on = j.node_name || shortId(j.node_id || '');
    if (j.state === 'failed')
      return el('div', { class: 'load-job', dataset: { state: 'failed' } },
        el('span', { class: 'progress' }, statusPill('failed'),
          el('span', { class: 'load-where', text: (on ? 'on ' + on + ' · ' : '') + fmtAgo(Number(j.failed_ms_ago)) + ' ago' })),
        j.error ? el('span', { class: 'reason', text: j.error }) : null);
    const age = el('span', { class: 'num', text: fmtAgo(Number(j.elapsed_ms)) });
    if (j.state === 'waiting-for-memory')
      return el('div', { class: 'load-job', dataset: { state: 'waiting' } },
        el('span', { class: 'progress' }, el('span', { class: 'pill pill-waiting', text: 'waiting for memory' }), age));
    return el('div', { class: 'load-job', dataset: { state: 'loading' } }, progressEl(j.progress),
      el('span', { class: 'load-where', text: (on ? 'on ' + on + ' · ' : '') }), age);
  }

  function loadJobsCell(m, reps) {
    if (!Array.isArray(m.load_jobs)) { // a router without load jobs
      const loading = reps.filter((r) => r.state === 'loading').length;
      return el('td', { class: 'num', text: loading ? loading + ' loading' : '—' });
    }
    if (m.load_jobs.length === 0) return el('td', {}, el('span', { class: 'none', text: '—' }));
    return el('td', { class: 'load-jobs' }, m.load_jobs.map(loadJob));
  }

  function renderModels() {
    const frag = document.createDocumentFragment();
    const models = state.models.slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
    for (const m of models) {
      const reps = Array.isArray(m.replicas) ? m.replicas : [];
      const chipsEl = reps.length ? el('div', { class: 'replica-chips' }, reps.map((r) =>
        el('span', { class: 'rchip rchip-' + r.state, title: (r.address || '') + ' · ' + r.state + (r.error ? ': ' + r.error : '') },
          r.node_name || shortId(r.node_id),
          el('small', { text: r.state + (r.state === 'loading' && percent(r.progress) !== null ? ' ' + Math.round(percent(r.progress)) + '%' : '') +
            (Number(r.in_flight) ? ' · ' + r.in_flight + ' in flight' : '') }))))
        : el('span', { class: 'none', text: 'not loaded' });
      const queue = Number(m.queue_length) || 0;
      frag.append(el('tr', { dataset: { model: m.name } },
        el('td', {}, el('span', { class: 'node-name', text: m.name })),
        el('td', {}, m.backend ? el('span', { class: 'chip chip-backend', text: m.backend }) : el('span', { class: 'none', text: '—' })),
        el('td', {}, chipsEl),
        loadJobsCell(m, reps),
        el('td', { class: 'num' + (queue > 0 ? ' stale' : ''), text: String(queue) }),
        el('td', { class: 'num', text: (m.replicas_min ?? '–') + ' / ' + (m.replicas_max ?? '–') })));
    }
    $('models-body').replaceChildren(frag);
    $('models-empty').hidden = models.length > 0;
  }

  function eventClass(kind) {
    const k = String(kind || '');
    if (/fail|crash|offline|error|removed|reject/.test(k)) return 'ev-bad';
    if (/evict|suspect|drain|timeout/.test(k)) return 'ev-warn';
    if (/ready|approved|healthy|resumed|loaded/.test(k)) return 'ev-good';
    return 'ev-info';
  }

  function renderEvents() {
    const names = state.nodeNames;
    const frag = document.createDocumentFragment();
    const now = Date.now();
    for (const ev of state.events) {
      const at = parseTime(ev.at);
      const detail = ev.detail && typeof ev.detail === 'object' ? Object.entries(ev.detail) : [];
      frag.append(el('tr', { dataset: { kind: ev.kind } },
        el('td', { class: 'ev-time', title: at ? at.toISOString() : '' },
          at ? fmtClock(at) : String(ev.at || ''),
          at ? el('small', { text: fmtAgo(now - at.getTime()) + ' ago' }) : null),
        el('td', {}, el('span', { class: 'ev-kind ' + eventClass(ev.kind), text: ev.kind })),
        el('td', { title: ev.node_id || '' }, ev.node_id ? names.get(ev.node_id) || (ev.detail && ev.detail.name) || shortId(ev.node_id) : el('span', { class: 'none', text: '—' })),
        el('td', {}, ev.model || el('span', { class: 'none', text: '—' })),
        el('td', {}, ev.actor || el('span', { class: 'none', text: '—' })),
        el('td', { class: 'detail-kv' }, detail.map(([k, v]) =>
          el('span', { text: k + '=' + (typeof v === 'object' ? JSON.stringify(v) : String(v)) })))));
    }
    $('events-body').replaceChildren(frag);
    $('events-empty').hidden = state.events.length > 0;
  }

  /* ---- views ---------------------------------------------------------- */

  function setView() {
    const v = (location.hash || '#nodes').slice(1);
    state.view = ['nodes', 'models', 'events'].includes(v) ? v : 'nodes';
    for (const name of ['nodes', 'models', 'events']) {
      $('view-' + name).hidden = name !== state.view;
      const tab = document.querySelector('.tab[data-view="' + name + '"]');
      tab.classList.toggle('active', name === state.view);
      if (name === state.view) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
    render();
  }

  /* ---- dialogs and toasts --------------------------------------------- */

  function toast(text, kind) {
    const t = el('div', { class: 'toast toast-' + (kind || 'ok'), role: kind === 'error' ? 'alert' : 'status', text });
    $('toasts').append(t);
    setTimeout(() => t.remove(), kind === 'error' ? 7000 : 3500);
  }

  function confirmDialog(title, text, okLabel) {
    return new Promise((resolve) => {
      const box = $('confirm');
      $('confirm-title').textContent = title;
      $('confirm-text').textContent = text;
      $('confirm-ok').textContent = okLabel;
      box.hidden = false;
      $('confirm-cancel').focus();
      const done = (v) => {
        box.hidden = true;
        $('confirm-ok').onclick = null;
        $('confirm-cancel').onclick = null;
        box.onkeydown = null;
        resolve(v);
      };
      $('confirm-ok').onclick = () => done(true);
      $('confirm-cancel').onclick = () => done(false);
      box.onkeydown = (e) => { if (e.key === 'Escape') done(false); };
    });
  }

  function showLogin(message) {
    state.signedOut = true;
    clearTimeout(state.timer);
    setLive('', 'Signed out');
    $('logout').hidden = true;
    $('login-error').textContent = message || '';
    $('login').hidden = false;
    $('login-key').value = '';
    $('login-key').focus();
  }

  function onLogin(e) {
    e.preventDefault();
    const key = $('login-key').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    $('login').hidden = true;
    $('logout').hidden = false;
    state.signedOut = false;
    setLive('', 'Connecting…');
    refresh();
  }

  function onLogout() {
    sessionStorage.removeItem(KEY_STORE);
    state.nodes = [];
    state.models = [];
    state.events = [];
    state.replicas.clear();
    state.expanded.clear();
    state.samples = [];
    state.rps = null;
    state.nodeNames.clear();
    render();
    showLogin('');
  }

  /* ---- actions -------------------------------------------------------- */

  const ACTIONS = {
    approve: { method: 'POST', path: '/approve', done: 'Approved' },
    drain: { method: 'POST', path: '/drain', done: 'Draining' },
    resume: { method: 'POST', path: '/resume', done: 'Resumed' },
    remove: { method: 'DELETE', path: '', done: 'Removed' },
  };

  async function nodeAction(btn) {
    const { action, id, name, model } = btn.dataset;
    const base = '/api/nodes/' + encodeURIComponent(id);
    if (action === 'remove' && !(await confirmDialog('Remove ' + name + '?',
      'The cluster forgets this node and stops routing to it. A worker that is still running registers again and waits for approval.', 'Remove node')))
      return;
    if (action === 'unload' && !(await confirmDialog('Unload ' + model + '?',
      'The replica of ' + model + ' on ' + name + ' stops; requests in flight on it finish first.', 'Unload')))
      return;
    btn.disabled = true;
    try {
      if (action === 'unload') {
        const r = await api('POST', base + '/models/unload', { model_name: model });
        if (r && r.success === false) throw new ApiError(200, r.error || 'unload failed');
        toast('Unloading ' + model + ' from ' + name);
      } else {
        const a = ACTIONS[action];
        const r = await api(a.method, base + a.path);
        if (r && r.success === false) throw new ApiError(200, r.error || action + ' failed');
        toast(a.done + ' ' + name);
      }
    } catch (e) {
      if (e.status === 401) {
        sessionStorage.removeItem(KEY_STORE);
        showLogin('That admin key was refused.');
        return;
      }
      toast(name + ': ' + e.message, 'error');
    } finally {
      btn.disabled = false;
    }
    refresh();
  }

  function toggleRow(row) {
    const id = row.dataset.nodeId;
    if (state.expanded.has(id)) state.expanded.delete(id);
    else state.expanded.add(id);
    renderNodes();
    refresh();
  }

  function onTableClick(e) {
    const btn = e.target.closest('button[data-action]');
    if (btn) {
      e.stopPropagation();
      if (!btn.disabled) nodeAction(btn);
      return;
    }
    const row = e.target.closest('tr.node-row');
    if (row) toggleRow(row);
  }

  function onTableKey(e) {
    if ((e.key === 'Enter' || e.key === ' ') && e.target.matches('tr.node-row')) {
      e.preventDefault();
      toggleRow(e.target);
    }
  }

  function start() {
    $('nodes-body').addEventListener('click', onTableClick);
    $('nodes-body').addEventListener('keydown', onTableKey);
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    window.addEventListener('hashchange', setView);
    setView();
    refresh();
  }

  start();
})();
