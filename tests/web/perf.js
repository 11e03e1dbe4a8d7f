// perf.js — the web page's click-to-rows times in headless Chromium, for
// make bench (bench/run.sh runs it against the bench controller; no checks
// of behaviour: tests/web/page.test.js does those).
//
//   SF_HTTP=127.0.0.1:PORT  SF_PERF_RUNS=5  node tests/web/perf.js
//
// Each figure is from the click (or the navigation) until the table shows
// rows different from before (for the chip: rows that all carry the chip's
// icon). Prints "# perf: ..." lines and "RESULT web_<what>_p50|max <ms> ms".
//
// Where the time goes, from the page's own clock (an init script: the click
// event, the API requests' resource timings, the last change of the table's
// rows, the next frame): per action, p50 of "input" (our click call until
// the page's click event), "net" (the click event until the last
// /api/v1/streams response ended, with its size), "render" (from there
// until the rows changed), "frame" (until the next animation frame) and
// the number of API requests the action made. "# perf: detail" lines.
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

// Runs in the page before its own scripts (CDP: not subject to the page's CSP)
function instrument() {
  window.__sfPerf = { click: 0, rows: 0, frame: 0 };
  performance.setResourceTimingBufferSize(100000);
  document.addEventListener('click', () => { window.__sfPerf.click = performance.timeOrigin + performance.now(); }, true);
  document.addEventListener('DOMContentLoaded', () => {
    new MutationObserver(() => {
      const t = performance.timeOrigin + performance.now();
      window.__sfPerf.rows = t;
      requestAnimationFrame(() => { window.__sfPerf.frame = performance.timeOrigin + performance.now(); });
    }).observe(document.querySelector('#rows'), { childList: true, subtree: true, characterData: true });
  });
}

// What the page saw since wall-clock time since (ms since the epoch)
function sample(since) {
  const p = window.__sfPerf;
  const api = performance.getEntriesByType('resource')
    .filter((e) => new URL(e.name).pathname.startsWith('/api/') && performance.timeOrigin + e.startTime >= since - 1);
  const streams = api.filter((e) => new URL(e.name).pathname === '/api/v1/streams');
  const last = streams.length ? streams[streams.length - 1] : null;
  return {
    click: p.click, rows: p.rows, frame: p.frame,
    requests: api.length,
    paths: api.map((e) => new URL(e.name).pathname).join(' '),
    streams_start: last ? performance.timeOrigin + last.startTime : 0,
    streams_ttfb: last ? last.responseStart - last.requestStart : 0,
    streams_end: last ? performance.timeOrigin + last.responseEnd : 0,
    streams_bytes: last ? last.encodedBodySize : 0,
  };
}

const detail = {};
function addDetail(what, t0, s) {
  const d = detail[what] || (detail[what] = { input: [], net: [], ttfb: [], render: [], frame: [], requests: [], bytes: [], paths: '' });
  const from = what === 'first_rows' ? t0 : s.click;
  if (what !== 'first_rows') d.input.push(s.click - t0);
  d.net.push(s.streams_end - from);
  d.ttfb.push(s.streams_ttfb);
  d.render.push(s.rows - s.streams_end);
  d.frame.push(s.frame - s.rows);
  d.requests.push(s.requests);
  d.bytes.push(s.streams_bytes);
  d.paths = s.paths;
}
function median(v) {
  if (!v.length) return '-';
  const t = [...v].sort((a, b) => a - b);
  return Math.round(t[Math.floor(t.length / 2)]);
}
function reportDetail() {
  for (const [what, d] of Object.entries(detail)) {
    console.log(`# perf: detail ${what}: input ${median(d.input)} ms, net ${median(d.net)} ms (server ${median(d.ttfb)} ms,` +
      ` ${median(d.bytes)} bytes), render ${median(d.render)} ms, frame ${median(d.frame)} ms;` +
      ` ${median(d.requests)} API requests (${d.paths})`);
  }
}

// Waits for the frame after the rows changed, then records where the time went
async function settle(page, what, t0) {
  await waitFor(page, () => window.__sfPerf.frame >= window.__sfPerf.rows && window.__sfPerf.rows > 0, null);
  addDetail(what, t0, await page.evaluate(sample, t0));
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
  await page.addInitScript(instrument);
  const t = { first_rows: [], chip: [], sort: [], next_page: [], last_page: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      const t0 = Date.now();
      await page.goto(BASE + '/');
      await waitFor(page, () => document.querySelectorAll('#rows tr').length > 0, null);
      t.first_rows.push(Date.now() - t0);
      await settle(page, 'first_rows', t0);
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
      await settle(page, 'chip', t0);
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
      await settle(page, 'sort', t0);
    }
    for (let i = 0; i < RUNS; i++) {
      const before = await page.evaluate(shown);
      const t0 = Date.now();
      await page.click('#pg-next');
      await changed(page, before);
      t.next_page.push(Date.now() - t0);
      await settle(page, 'next_page', t0);
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
      await settle(page, 'last_page', t0);
    }
  } finally {
    await browser.close();
  }
  for (const [what, v] of Object.entries(t)) if (v.length) report(what, v);
  reportDetail();
}

main().catch((e) => { console.log(`# perf: failed: ${e.message}`); process.exit(1); });
