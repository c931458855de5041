// Drives the Nodes page in Debian's headless Chromium with playwright-core
// (run by tests/e2e/nodes_page.test, which starts the server):
//   node nodes_page.mjs BASE_URL ADMIN_KEY ARTIFACT_DIR
// Checks what an operator sees and does: the login prompt, the nodes and
// their statuses, the summary cards, Approve / Drain / Resume / Remove /
// Unload with their confirmations, expanded replicas, the models and
// events views, live updates without a reload, requests per second, and
// that names and labels are shown as text, never as markup.  Saves
// screenshots to ARTIFACT_DIR.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, adminKey, artifacts] = process.argv.slice(2);
const T = 10000;

function step(s) { console.log('--', s); }

async function api(method, p, body) {
  const res = await fetch(base + p, {
    method,
    headers: { Authorization: 'Bearer ' + adminKey, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

const row = (name) => `tr.node-row[data-node-name="${name}"]`;

async function waitStatus(page, name, status) {
  await page.waitForSelector(`${row(name)}[data-status="${status}"]`, { timeout: T });
  assert.equal(await page.locator(`${row(name)} .status-cell .pill`).textContent(), status);
}

async function card(page, id) {
  return (await page.locator('#card-' + id).textContent()).trim();
}

async function waitCard(page, id, want) {
  await page.waitForFunction(([i, w]) => document.getElementById('card-' + i).textContent.trim() === w,
    [id, want], { timeout: T });
}

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'localai-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
  });
  const errors = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
    page.on('console', (m) => {
      // Chromium logs every refused fetch (the 401 before signing in).
      if (m.type() === 'error' && !/status of 40[149]/.test(m.text())) errors.push('console: ' + m.text());
    });

    step('the page loads and asks for the admin key');
    const resp = await page.goto(base + '/app/nodes');
    assert.equal(resp.status(), 200);
    await page.waitForSelector('#login:not([hidden])', { timeout: T });
    assert.equal(await page.title(), 'Nodes · localai');

    step('a wrong key is refused');
    await page.fill('#login-key', 'not-the-key');
    await page.click('#login-submit');
    await page.waitForFunction(() => document.getElementById('login-error').textContent.includes('refused') &&
      !document.getElementById('login').hidden, null, { timeout: T });

    step('the right key shows the nodes');
    await page.fill('#login-key', adminKey);
    await page.click('#login-submit');
    await page.waitForSelector('#login[hidden]', { state: 'attached', timeout: T });
    await page.waitForSelector(row('old-05'), { timeout: T });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('localai.adminKey')), adminKey);
    await page.evaluate(() => { window.__sameDocument = true; });
    const names = await page.locator('tr.node-row').evaluateAll((rows) => rows.map((r) => r.dataset.nodeName));
    assert.deepEqual(names, ['cpu-02', 'cpu-03', 'edge-04', 'gpu-01', 'old-05']);
    await waitStatus(page, 'gpu-01', 'healthy');
    await waitStatus(page, 'cpu-02', 'suspect');
    await waitStatus(page, 'cpu-03', 'pending');
    await waitStatus(page, 'edge-04', 'draining');
    await waitStatus(page, 'old-05', 'offline');
    assert.equal(await card(page, 'total'), '5');
    for (const k of ['healthy', 'suspect', 'draining', 'pending', 'offline']) assert.equal(await card(page, k), '1', k);
    assert.equal(await card(page, 'models'), '5');
    const gpuText = await page.locator(row('gpu-01')).innerText();
    for (const want of ['gpu=nvidia', 'zone=a', '28.0 GiB / 64.0 GiB', '4.0 GiB reserved', '20.0 GiB / 24.0 GiB', 'nvidia · 2.0 GiB reserved', 'llama-cpp', 'whisper', 'ago'])
      assert.ok(gpuText.includes(want), `gpu-01 row shows "${want}": ${gpuText}`);
    // Only the actions that fit the status are offered.
    assert.equal(await page.locator(`${row('cpu-03')} button[data-action=approve]`).count(), 1);
    assert.equal(await page.locator(`${row('gpu-01')} button[data-action=approve]`).count(), 0);
    assert.equal(await page.locator(`${row('edge-04')} button[data-action=resume]`).count(), 1);

    step('requests per second come from successive /metrics reads');
    await page.waitForFunction(() => /^[0-9.]+$/.test(document.getElementById('card-rps').textContent.trim()), null, { timeout: T });
    const rps = Number(await card(page, 'rps'));
    assert.ok(rps > 2 && rps < 10, 'rps about 5: ' + rps);

    step('a row expands to its replicas');
    await page.click(`${row('gpu-01')} td.col-expand`);
    const detail = 'tr.detail[data-detail-for="5f0c6d2e-0000-4000-8000-000000000001"]';
    await page.waitForSelector(`${detail} tr[data-model="qwen-7b"]`, { timeout: T });
    assert.equal(await page.locator(`${detail} tr[data-model="llama-3-8b"] .pill`).textContent(), 'ready');
    assert.match(await page.locator(`${detail} tr[data-model="qwen-7b"]`).innerText(), /loading\s+\d+%/);
    assert.match(await page.locator(`${detail} tr[data-model="llama-3-8b"]`).innerText(), /10\.0\.0\.1:50061/);
    await page.click(`${row('cpu-02')} td.col-expand`);
    await page.waitForSelector('tr.detail tr[data-model="phi-2"][data-state="failed"]', { timeout: T });
    assert.match(await page.locator('tr.detail tr[data-model="phi-2"]').innerText(), /not enough memory/);
    await page.screenshot({ path: path.join(artifacts, 'nodes_page.png'), fullPage: true });

    step('Approve turns the pending node healthy');
    await page.click(`${row('cpu-03')} button[data-action=approve]`);
    await waitStatus(page, 'cpu-03', 'healthy');
    await waitCard(page, 'pending', '0');
    assert.equal((await api('GET', '/api/nodes/5f0c6d2e-0000-4000-8000-000000000003')).body.status, 'healthy');

    step('Drain changes the status, Resume brings it back');
    await page.click(`${row('gpu-01')} button[data-action=drain]`);
    await waitStatus(page, 'gpu-01', 'draining');
    await waitCard(page, 'draining', '2');
    assert.equal((await api('GET', '/api/nodes/5f0c6d2e-0000-4000-8000-000000000001')).body.status, 'draining');
    await page.click(`${row('edge-04')} button[data-action=resume]`);
    await waitStatus(page, 'edge-04', 'healthy');

    step('a refused action shows the server\'s message');
    // The answer the router gives when the node changed meanwhile.
    await page.route('**/api/nodes/*/drain', (r) => r.fulfill({
      status: 409, contentType: 'application/json',
      body: JSON.stringify({ error: { code: 409, message: 'only a healthy node can drain', type: 'node_error' } }),
    }));
    await page.click(`${row('edge-04')} button[data-action=drain]`);
    await page.waitForSelector('.toast-error', { timeout: T });
    assert.match(await page.locator('.toast-error').first().textContent(), /edge-04: only a healthy node can drain/);
    await page.unroute('**/api/nodes/*/drain');
    await waitStatus(page, 'edge-04', 'healthy');

    step('Unload asks first, then the replica goes');
    await page.click(`${detail} button[data-action=unload][data-model="whisper-1"]`);
    await page.waitForSelector('#confirm:not([hidden])', { timeout: T });
    assert.match(await page.locator('#confirm-title').textContent(), /Unload whisper-1/);
    await page.click('#confirm-ok');
    await page.waitForSelector(`${detail} tr[data-model="whisper-1"]`, { state: 'detached', timeout: T });

    step('Remove asks first; Cancel keeps the node');
    await page.click(`${row('old-05')} button[data-action=remove]`);
    await page.waitForSelector('#confirm:not([hidden])', { timeout: T });
    await page.click('#confirm-cancel');
    await page.waitForTimeout(2500);
    assert.equal(await page.locator(row('old-05')).count(), 1);
    await page.click(`${row('old-05')} button[data-action=remove]`);
    await page.click('#confirm-ok');
    await page.waitForSelector(row('old-05'), { state: 'detached', timeout: T });
    await waitCard(page, 'total', '4');

    step('changes made elsewhere show up without a reload');
    await api('PATCH', '/api/nodes/5f0c6d2e-0000-4000-8000-000000000002/labels',
      { note: '<img src=x onerror="window.__xss=1">' });
    await page.waitForFunction(() => [...document.querySelectorAll('.chip')].some((c) => c.textContent.startsWith('note=<img')),
      null, { timeout: T });
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.locator('#nodes-body img').count(), 0);
    assert.equal(await page.evaluate(() => window.__sameDocument), true);
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);

    step('the models view');
    await page.click('a.tab[data-view=models]');
    await page.waitForSelector('#view-models:not([hidden]) tr[data-model="qwen-7b"]', { timeout: T });
    const models = await page.locator('#models-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.model));
    assert.deepEqual(models, ['embed-small', 'llama-3-8b', 'phi-2', 'qwen-7b', 'tts-1', 'whisper-1']);
    const qwen = await page.locator('#models-body tr[data-model="qwen-7b"]').innerText();
    assert.match(qwen, /gpu-01/);
    assert.match(qwen, /\b2\b/);
    // Load jobs: the one in progress with its node, progress and age; the
    // last failed one with its node, when and the backend's reason.
    const qjob = await page.locator('#models-body tr[data-model="qwen-7b"] .load-job[data-state="loading"]').innerText();
    assert.match(qjob, /loading\s+\d+%\s+on gpu-01 ·\s+\d+(\.\d)? s/);
    const pjob = await page.locator('#models-body tr[data-model="phi-2"] .load-job[data-state="failed"]').innerText();
    assert.match(pjob, /failed\s+on cpu-02 · 10 min ago\s+LoadModel: not enough memory \(needs 6\.1 GiB\)/);
    assert.equal(await page.locator('#models-body tr[data-model="llama-3-8b"] .load-job').count(), 0);
    assert.match(await page.locator('#models-body tr[data-model="llama-3-8b"]').innerText(), /cpu-02[\s\S]*gpu-01|gpu-01[\s\S]*cpu-02/);
    assert.match(await page.locator('#models-body tr[data-model="embed-small"]').innerText(), /not loaded/);
    await page.screenshot({ path: path.join(artifacts, 'nodes_page_models.png'), fullPage: true });

    step('the events view, newest first');
    await page.click('a.tab[data-view=events]');
    await page.waitForSelector('#view-events:not([hidden]) #events-body tr', { timeout: T });
    const kinds = await page.locator('#events-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.kind));
    assert.equal(kinds[0], 'node_labels');
    assert.ok(kinds.indexOf('node_removed') < kinds.indexOf('replica_unloaded'), kinds.join(' '));
    assert.ok(kinds.indexOf('replica_unloaded') < kinds.indexOf('node_approved'), kinds.join(' '));
    assert.equal(kinds[kinds.length - 1], 'node_registered');
    assert.match(await page.locator('#events-body tr').nth(0).innerText(), /cpu-02/);
    await page.screenshot({ path: path.join(artifacts, 'nodes_page_events.png'), fullPage: true });

    step('signing out forgets the key');
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])', { timeout: T });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('localai.adminKey')), null);
    assert.equal(await page.locator('tr.node-row').count(), 0);

    assert.deepEqual(errors, []);
    console.log('nodes page: all checks passed');
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
