// alerts.test.js — the web page's alerts (issue 17, item 4) in headless
// Debian chromium: the firing-alerts badge, the Alerts view (firing, recent,
// rules) and a stream's alert history in its detail, checked against
// GET /api/v1/alerts while a pushed camera goes offline and comes back.
// Prints TAP lines. Run from tests/integration/74_alerts_web.sh.
//
//   SF_HTTP=127.0.0.1:PORT   the controller's HTTP address
//   SF_PUSH=127.0.0.1:PORT   a push-source agent's endpoint
'use strict';

const net = require('net');
const { chromium } = require('playwright-core');

const BASE = `http://${process.env.SF_HTTP}`;
let failures = 0;
function ok(name) { console.log(`ok - ${name}`); }
function notOk(name, why) { failures++; console.log(`not ok - ${name}${why ? ' # ' + String(why).replace(/\n/g, ' ') : ''}`); }
async function check(name, fn) {
  try { if ((await fn()) === false) notOk(name); else ok(name); } catch (e) { notOk(name, e.message); }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
async function api(p) {
  const r = await fetch(BASE + p);
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status}`);
  return r.json();
}
function push(lines, addr = process.env.SF_PUSH) {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), host);
    let answer = '';
    sock.on('data', (d) => { answer += d; if (answer.split('\n').length > lines.length) { sock.end(); resolve(answer.trim()); } });
    sock.on('error', reject);
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('push endpoint did not answer')); });
    sock.write(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  });
}
// Polls fn(arg) in the page (the page's CSP forbids waitForFunction's eval)
async function waitFor(page, fn, arg, timeout = 30000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${fn.toString().slice(0, 100)}`);
    await sleep(100);
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.SF_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-dev-shm-usage'],
  });
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await check('the page loads with the alerts badge at 0', async () => {
      await page.goto(BASE + '/');
      await page.waitForSelector('#rows tr', { timeout: 15000 });
      await waitFor(page, () => document.querySelector('#alerts-badge').textContent === '0');
    });
    await check('a camera goes offline: its alert fires (API)', async () => {
      const a = await push([{ name: 'cam-web', status: 'error', type: 'primary' }]);
      assert(a === 'ok', a);
      for (let i = 0; i < 100; i++) {
        const d = await api('/api/v1/alerts');
        if (d.firing.some((f) => f.key.endsWith('/cam-web'))) return;
        await sleep(200);
      }
      throw new Error('no alert for cam-web in /api/v1/alerts');
    });
    await check('the badge shows one alert firing, without a reload', async () => {
      await waitFor(page, () => document.querySelector('#alerts-badge').textContent === '1' &&
                               !document.querySelector('#alerts-badge').classList.contains('zero'));
    });
    await check('the alert\'s link (the API\'s, the webhook\'s links.web) opens the stream\'s detail', async () => {
      const f = (await api('/api/v1/alerts')).firing.find((x) => x.key.endsWith('/cam-web'));
      assert(f.link && f.link.includes('name=cam-web') && f.link.includes('&detail=1'), f.link);
      const other = await page.context().newPage();
      try {
        await other.goto(f.link);
        await other.waitForSelector('#detail:not([hidden])', { timeout: 15000 });
        await waitFor(other, () => document.querySelector('#d-title').textContent === 'cam-web');
      } finally {
        await other.close();
      }
    });
    await check('the Alerts view lists it with the API\'s rule, node and reason', async () => {
      await page.click('a.view-link[data-view=alerts]');
      await waitFor(page, () => document.querySelectorAll('#alert-rows tr').length === 1);
      const d = await api('/api/v1/alerts');
      const f = d.firing[0];
      const row = await page.$eval('#alert-rows tr', (tr) => ({ key: tr.dataset.key, cells: [...tr.cells].map((c) => c.textContent) }));
      assert(row.key === f.key, `${row.key} != ${f.key}`);
      assert(row.cells[1] === f.rule && row.cells[2] === 'cam-web' && row.cells[3] === f.node && row.cells[5] === f.reason,
             row.cells.join('|'));
      const rules = await page.$$eval('#alert-rule-rows tr', (trs) => trs.map((tr) => tr.cells[0].textContent));
      assert(rules.join(',') === d.rules.map((r) => r.name).join(','), rules.join(','));
    });
    await check('its row opens the stream\'s detail; the Alerts tab shows it firing and in the history', async () => {
      await page.click('#alert-rows tr');
      await page.waitForSelector('#detail:not([hidden])');
      await page.click('.tab[data-tab=alerts]');
      await waitFor(page, () => document.querySelectorAll('#d-alerts-firing tr').length === 1 &&
        [...document.querySelectorAll('#d-alerts-history tr')].some((tr) => tr.dataset.state === 'firing'));
    });
    let cursor = '';
    await check('the camera comes back: the resolution shows in its alert history, the badge goes to 0', async () => {
      cursor = (await api('/api/v1/changes')).cursor;
      const a = await push([{ name: 'cam-web', status: 'active', type: 'primary', bitrate_kbps: 900 }]);
      assert(a === 'ok', a);
      await waitFor(page, () => [...document.querySelectorAll('#d-alerts-history tr')].some((tr) => tr.dataset.state === 'resolved') &&
        document.querySelector('#alerts-badge').textContent === '0', undefined, 40000);
      const d = await api('/api/v1/alerts?stream=cam-web');
      assert(d.recent.length === 2 && d.recent[0].state === 'resolved' && d.recent[1].state === 'firing',
             JSON.stringify(d.recent.map((r) => r.state)));
    });
    await check('the resolution (its resolve hold passing, the timer) is a change-feed entry after the camera\'s put', async () => {
      const c = await api(`/api/v1/changes?after=${encodeURIComponent(cursor)}&max=1000`);
      const put = c.changes.findIndex((e) => e.op === 'put' && e.name === 'cam-web' && e.status === 'active');
      const alert = c.changes.findIndex((e, i) => i > put && e.op === 'node' && e.what === 'alert');
      assert(put >= 0 && alert > put, JSON.stringify(c.changes.map((e) => [e.op, e.name || e.what])));
    });
    await check('no script errors on the page', () => { assert(!errors.length, errors.join('; ')); });
  } finally {
    await browser.close();
  }
  process.exit(failures ? 1 : 0);
}
main().catch((e) => { console.log(`not ok - browser test ran # ${e.message}`); process.exit(2); });
