// perf.js — the web page's click-to-rows times in headless Chromium, for
// make bench (bench/run.sh runs it against the bench controller; no checks
// of behaviour: tests/web/page.test.js does those).
//
//   SF_HTTP=127.0.0.1:PORT  SF_PERF_RUNS=5  node tests/web/perf.js
//
// Each figure is from the click (or the navigation) until the table shows
// rows different from before (for the chip: rows that all carry the chip's
// icon). Prints "# perf: ..." lines and "RESULT web_<what>_p50|max <ms> ms".
'use strict';

const { chromium } = require('playwright-core');

const BASE = `http://${process.env.SF_HTTP}`;
const RUNS = Math.max(1, parseInt(process.env.SF_PERF_RUNS || '5', 10));
const TIMEOUT = 30000;

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function waitFor(page, fn, arg) {
  const end = Date.now() + TIMEOUT;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${fn.toString().slice(0, 80)}`);
    await sleep(5);
  }
}

// The rows shown now, as one string
function shown() {
  return [...document.querySelectorAll('#rows tr')].map((tr) => `${tr.dataset.node}/${tr.dataset.name}`).join('\n');
}

async function changed(page, before) {
  await waitFor(page, (b) => {
    const now = [...document.querySelectorAll('#rows tr')].map((tr) => `${tr.dataset.node}/${tr.dataset.name}`).join('\n');
    return now !== '' && now !== b;
  }, before);
}

function report(what, t) {
  t.sort((a, b) => a - b);
  const p50 = t[Math.floor(t.length / 2)], max = t[t.length - 1];
  console.log(`# perf: ${what} click-to-rows p50 ${p50} ms, max ${max} ms (${t.length} runs)`);
  console.log(`RESULT web_${what}_p50 ${p50} ms`);
  console.log(`RESULT web_${what}_max ${max} ms`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.SF_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const t = { first_rows: [], chip: [], sort: [], next_page: [], last_page: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      const t0 = Date.now();
      await page.goto(BASE + '/');
      await waitFor(page, () => document.querySelectorAll('#rows tr').length > 0, null);
      t.first_rows.push(Date.now() - t0);
    }
    for (let i = 0; i < RUNS; i++) {
      // On, then off again (the off click is not timed)
      const before = await page.evaluate(shown);
      const t0 = Date.now();
      await page.click('.chip[data-param=secondary]');
      await waitFor(page, (b) => {
        const trs = [...document.querySelectorAll('#rows tr')];
        const now = trs.map((tr) => `${tr.dataset.node}/${tr.dataset.name}`).join('\n');
        return trs.length > 0 && now !== b && trs.every((tr) => tr.querySelector('[data-icon=secondary]'));
      }, before);
      t.chip.push(Date.now() - t0);
      const on = await page.evaluate(shown);
      await page.click('.chip[data-param=secondary]');
      await changed(page, on);
    }
    for (let i = 0; i < RUNS; i++) {
      // bitrate (descending first), then the other way
      const before = await page.evaluate(shown);
      const t0 = Date.now();
      await page.click('#streams th[data-sort=bitrate]');
      await changed(page, before);
      t.sort.push(Date.now() - t0);
    }
    for (let i = 0; i < RUNS; i++) {
      const before = await page.evaluate(shown);
      const t0 = Date.now();
      await page.click('#pg-next');
      await changed(page, before);
      t.next_page.push(Date.now() - t0);
    }
    for (let i = 0; i < RUNS; i++) {
      const last = await page.evaluate(shown);
      await page.click('#pg-first');
      await changed(page, last);
      const before = await page.evaluate(shown);
      const t0 = Date.now();
      await page.click('#pg-last');
      await changed(page, before);
      t.last_page.push(Date.now() - t0);
    }
  } finally {
    await browser.close();
  }
  for (const [what, v] of Object.entries(t)) if (v.length) report(what, v);
}

main().catch((e) => { console.log(`# perf: failed: ${e.message}`); process.exit(1); });
