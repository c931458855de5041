// The Nodes page against a real frontend (run by nodes_cluster.test):
//   node nodes_cluster.mjs BASE_URL ADMIN_KEY ARTIFACT_DIR
// Two real workers registered; w2 is pending.  The page shows both with
// the right statuses, Approve turns w2 healthy, Drain changes w1, and a
// screenshot of the page is saved.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, adminKey, artifacts] = process.argv.slice(2);
const T = 15000;
const row = (name) => `tr.node-row[data-node-name="${name}"]`;

async function status(name) {
  const res = await fetch(base + '/api/nodes', { headers: { Authorization: 'Bearer ' + adminKey } });
  const n = (await res.json()).find((x) => x.name === name);
  return n && n.status;
}

async function waitStatus(page, name, st) {
  await page.waitForSelector(`${row(name)}[data-status="${st}"]`, { timeout: T });
  assert.equal(await status(name), st);
}

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'localai-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('dialog', (d) => d.accept());
    console.log('-- the page loads from the frontend and asks for the key');
    const resp = await page.goto(base + '/app/nodes');
    assert.equal(resp.status(), 200);
    await page.fill('#login-key', adminKey);
    await page.click('#login-submit');
    console.log('-- the two real workers are shown with their statuses');
    await waitStatus(page, 'w1', 'healthy');
    await waitStatus(page, 'w2', 'pending');
    await page.screenshot({ path: path.join(artifacts, 'nodes_cluster.png'), fullPage: true });
    console.log('-- Approve turns the pending worker healthy');
    await page.click(`${row('w2')} button[data-action=approve]`);
    await waitStatus(page, 'w2', 'healthy');
    console.log('-- Drain changes the status of the other');
    await page.click(`${row('w1')} button[data-action=drain]`);
    await waitStatus(page, 'w1', 'draining');
    await page.screenshot({ path: path.join(artifacts, 'nodes_cluster_after.png'), fullPage: true });
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log('ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
