// The Nodes page against a real frontend (run by nodes_cluster.test):
//   node nodes_cluster.mjs BASE_URL ADMIN_KEY ARTIFACT_DIR
// Two real workers registered: w1 approved and holding a ready replica of
// "fake" (loaded by a real request), w2 pending.  The page shows both
// with the right statuses and cards, w1's row expands to its replica,
// Approve turns w2 healthy, Drain changes w1, the models view shows the
// replica where it runs, the events view shows what happened newest
// first, Unload (confirmed) removes the replica, and screenshots of each
// view are saved.  Real failures and loads: "broken" failed to load on w1
// (its reason is in w1's expanded row and in the models view's load
// jobs), and a request for "slow" shows its load job and replica at
// "loading 90%" (file fetched, LoadModel running) until it is ready.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, adminKey, artifacts] = process.argv.slice(2);
const T = 15000;
const row = (name) => `tr.node-row[data-node-name="${name}"]`;

async function api(p) {
  const res = await fetch(base + p, { headers: { Authorization: 'Bearer ' + adminKey } });
  assert.equal(res.status, 200, p);
  return res.json();
}

async function node(name) {
  return (await api('/api/nodes')).find((x) => x.name === name);
}

async function waitStatus(page, name, st) {
  await page.waitForSelector(`${row(name)}[data-status="${st}"]`, { timeout: T });
  assert.equal((await node(name)).status, st);
}

async function waitCard(page, card, value) {
  await page.waitForFunction(([id, v]) => document.getElementById(id).textContent === v,
    ['card-' + card, value], { timeout: T });
}

// The data-kind of the events view's rows, top to bottom.
async function eventKinds(page) {
  return page.locator('#events-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.kind));
}

function step(s) { console.log('-- ' + s); }

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'localai-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
  });
  const offsite = [];
  const polls = []; // times of the page's GET /api/nodes
  try {
    const page = context.pages()[0] || await context.newPage();
    // Nothing may come from anywhere but the frontend (no CDN).
    page.on('request', (r) => {
      if (!r.url().startsWith(base)) offsite.push(r.url());
      if (r.url() === base + '/api/nodes' && r.method() === 'GET') polls.push(Date.now());
    });
    step('the page loads from the frontend and asks for the key');
    const resp = await page.goto(base + '/app/nodes');
    assert.equal(resp.status(), 200);
    await page.fill('#login-key', adminKey);
    await page.click('#login-submit');

    step('the two real workers are shown with their statuses and cards');
    await waitStatus(page, 'w1', 'healthy');
    await waitStatus(page, 'w2', 'pending');
    await waitCard(page, 'total', '2');
    await waitCard(page, 'healthy', '1');
    await waitCard(page, 'pending', '1');
    await waitCard(page, 'models', '1');
    await waitCard(page, 'inflight', '0');
    assert.match(await page.locator(row('w1')).innerText(), /fake/);
    await page.screenshot({ path: path.join(artifacts, 'nodes_cluster.png'), fullPage: true });

    step('w1 expands to its real replica');
    const w1 = await node('w1');
    const replica = (await api('/api/models')).find((m) => m.name === 'fake').replicas[0];
    await page.click(`${row('w1')} td.col-expand`);
    const detail = `tr.detail[data-detail-for="${w1.id}"]`;
    await page.waitForSelector(`${detail} tr[data-model="fake"]`, { timeout: T });
    assert.equal(await page.locator(`${detail} tr[data-model="fake"] .pill`).textContent(), 'ready');
    assert.ok((await page.locator(`${detail} tr[data-model="fake"]`).innerText()).includes(replica.address));
    step('w1\'s failed replica shows the backend\'s reason');
    await page.waitForSelector(`${detail} tr[data-model="broken"][data-state="failed"]`, { timeout: T });
    assert.match(await page.locator(`${detail} tr[data-model="broken"]`).innerText(),
      /failed\s+backend error: fake: load failure requested/);

    step('Approve turns the pending worker healthy');
    await page.click(`${row('w2')} button[data-action=approve]`);
    await waitStatus(page, 'w2', 'healthy');
    await waitCard(page, 'pending', '0');

    step('Drain changes the status of the other');
    await page.click(`${row('w1')} button[data-action=drain]`);
    await waitStatus(page, 'w1', 'draining');
    await waitCard(page, 'draining', '1');
    await page.screenshot({ path: path.join(artifacts, 'nodes_cluster_after.png'), fullPage: true });

    step('the models view shows the configured model and where it runs');
    await page.click('a.tab[data-view=models]');
    await page.waitForSelector('#view-models:not([hidden]) #models-body tr[data-model="fake"]', { timeout: T });
    const fake = await page.locator('#models-body tr[data-model="fake"]').innerText();
    assert.match(fake, /w1/);
    assert.match(fake, /ready/);
    assert.match(fake, /\bfake\b/);
    assert.equal(await page.locator('#models-body tr').count(), (await api('/api/models')).length);
    const bjob = await page.locator('#models-body tr[data-model="broken"] .load-job[data-state="failed"]').innerText();
    assert.match(bjob, /failed\s+on w1 · [0-9.]+ (s|min) ago\s+backend error: fake: load failure requested/);
    await page.screenshot({ path: path.join(artifacts, 'nodes_cluster_models.png'), fullPage: true });

    step('the events view shows the real events, newest first');
    await page.click('a.tab[data-view=events]');
    await page.waitForFunction(() => document.querySelector('#events-body tr')?.dataset.kind === 'node_draining',
      null, { timeout: T });
    let kinds = await eventKinds(page);
    const api_kinds = (await api('/api/events?limit=100')).map((e) => e.kind);
    assert.deepEqual(kinds, api_kinds);
    for (const k of ['node_draining', 'node_approved', 'replica_ready', 'replica_loading', 'node_registered'])
      assert.ok(kinds.includes(k), k + ' missing: ' + kinds.join(' '));
    assert.ok(kinds.indexOf('node_draining') < kinds.indexOf('node_approved'), kinds.join(' '));
    assert.ok(kinds.indexOf('node_approved') < kinds.indexOf('replica_ready'), kinds.join(' '));
    assert.ok(kinds.indexOf('replica_ready') < kinds.indexOf('replica_loading'), kinds.join(' '));
    assert.equal(kinds[kinds.length - 1], 'node_registered');
    assert.match(await page.locator('#events-body tr').nth(0).innerText(), /\bw1\b/);
    await page.screenshot({ path: path.join(artifacts, 'nodes_cluster_events.png'), fullPage: true });

    step('Unload asks first, then the replica goes (live, no reload)');
    await page.click('a.tab[data-view=nodes]');
    await page.waitForSelector(`${detail} tr[data-model="fake"]`, { timeout: T });
    await page.click(`${detail} button[data-action=unload][data-model="fake"]`);
    await page.waitForSelector('#confirm:not([hidden])', { timeout: T });
    await page.click('#confirm-ok');
    await page.waitForSelector(`${detail} tr[data-model="fake"]`, { state: 'detached', timeout: T });
    await waitCard(page, 'models', '0');
    await page.click('a.tab[data-view=events]');
    await page.waitForFunction(() => document.querySelector('#events-body tr')?.dataset.kind === 'replica_unloaded',
      null, { timeout: T });
    step('a change made elsewhere shows within one poll (2 s), no reload');
    await page.click('a.tab[data-view=nodes]');
    const res = await fetch(base + `/api/nodes/${w1.id}/resume`,
      { method: 'POST', headers: { Authorization: 'Bearer ' + adminKey } });
    assert.equal(res.status, 200);
    const t0 = Date.now();
    await page.waitForSelector(`${row('w1')}[data-status="healthy"]`, { timeout: T });
    const took = Date.now() - t0;
    console.log(`   shown after ${took} ms`);
    assert.ok(took <= 4000, `the page showed the change after ${took} ms`);
    // Actions refresh at once; between them the page polls every 2 s, so
    // no gap may be much longer (2 s plus the time a poll takes).
    const gaps = polls.slice(1).map((t, i) => t - polls[i]);
    console.log(`   ${polls.length} polls, longest gap ${Math.max(...gaps)} ms`);
    assert.ok(gaps.length >= 3 && Math.max(...gaps) <= 3000, `poll gaps ${gaps.join(' ')} ms`);

    step('a load in progress: its job and its replica at 90%');
    const slow = fetch(base + '/v1/chat/completions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'hi' }] }),
    });
    let job;
    for (let i = 0; i < 100 && !job; i++) {
      job = (await api('/api/models')).find((m) => m.name === 'slow').load_jobs
        .find((j) => j.state === 'loading' && j.progress === 90);
      if (!job) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(job, 'no load job of slow at 90%');
    await page.click('a.tab[data-view=models]');
    await page.waitForFunction(() => /loading\s+90%\s+on w[12] ·/.test(
      document.querySelector('#models-body tr[data-model="slow"] .load-job[data-state="loading"]')?.innerText || ''),
    null, { timeout: T });
    await page.screenshot({ path: path.join(artifacts, 'nodes_cluster_loading.png'), fullPage: true });
    await page.click('a.tab[data-view=nodes]');
    const where = await node(job.node_name);
    const wdetail = `tr.detail[data-detail-for="${where.id}"]`;
    if (await page.locator(wdetail).count() === 0) await page.click(`${row(job.node_name)} td.col-expand`);
    await page.waitForSelector(`${wdetail} tr[data-model="slow"][data-state="loading"]`, { timeout: T });
    assert.match(await page.locator(`${wdetail} tr[data-model="slow"]`).innerText(), /loading\s+90%/);
    const answer = await slow;
    assert.equal(answer.status, 200);
    await page.waitForSelector(`${wdetail} tr[data-model="slow"][data-state="ready"]`, { timeout: T });

    step('requests per second come from the real /metrics');
    await page.waitForFunction(() => /^[0-9.]+$/.test(document.getElementById('card-rps').textContent),
      null, { timeout: T });
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);
    assert.deepEqual(offsite, []);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log('ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
