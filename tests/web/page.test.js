// page.test.js — drives the controller's web page in headless Debian chromium
// (playwright-core, executablePath /usr/bin/chromium; no browser download)
// and checks what it shows against the JSON API. Prints TAP lines.
//
//   SF_HTTP=127.0.0.1:PORT       the controller's HTTP address (required)
//   SF_PUSH=127.0.0.1:PORT       a push-source agent's endpoint: the test pushes
//                                a stream and changes it to see a row change live
//   SF_PUSH_NODE=NODE            that agent's node id
//   SF_SCREENSHOT=FILE           where to save the screenshot (default web-page.png)
//   SF_TOKEN=TOKEN               bearer token, when the controller wants one
//   SF_CLI=PATH, SF_QUERY=TCP    the CLI and the controller's query endpoint:
//                                the Nodes view's cells are compared with
//                                `streamfleet nodes` (its certificates from
//                                STREAMFLEET_CERT, STREAMFLEET_SERVER_CERT)
//   SF_PERF=1                    also time paging and filtering (prints # lines)
'use strict';

const { execFileSync } = require('child_process');
const net = require('net');
const path = require('path');
const { chromium } = require('playwright-core');

const HTTP = process.env.SF_HTTP;
const BASE = `http://${HTTP}`;
const TOKEN = process.env.SF_TOKEN || '';
const SHOT = process.env.SF_SCREENSHOT || path.join(__dirname, 'web-page.png');
let failures = 0;

function ok(name) { console.log(`ok - ${name}`); }
function notOk(name, why) { failures++; console.log(`not ok - ${name}${why ? ' # ' + String(why).replace(/\n/g, ' ') : ''}`); }
async function check(name, fn) {
  try {
    const r = await fn();
    if (r === false) notOk(name); else ok(name);
  } catch (e) {
    notOk(name, e.message);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function api(p) {
  const r = await fetch(BASE + p, { headers: TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {} });
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status}`);
  return r.json();
}

// Sends JSON lines to a push source (default SF_PUSH); resolves with its answers
function push(lines, addr = process.env.SF_PUSH) {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), host);
    let answer = '';
    sock.on('data', (d) => {
      answer += d;
      if (answer.split('\n').length > lines.length) { sock.end(); resolve(answer.trim()); }
    });
    sock.on('error', reject);
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('push endpoint did not answer')); });
    sock.write(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  });
}

// Polls fn(arg) in the page until it is truthy. page.waitForFunction would
// evaluate a string, which the page's Content-Security-Policy (rightly) forbids.
async function waitFor(page, fn, arg, timeout = 10000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${fn.toString().slice(0, 80)}`);
    await sleep(50);
  }
}

// `streamfleet nodes`' cells for node id, cut at the columns' widths as the
// CLI lays them out (one space between cells, two before the elastic last
// one of width 0, a mark of header "" right after it): { label: text }
function cliNodeCells(cols, id) {
  const out = execFileSync(process.env.SF_CLI, ['--controller', process.env.SF_QUERY, '--timeout-ms', '3000', 'nodes'],
    { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith(id + ' '));
  if (!line) throw new Error(`streamfleet nodes has no line for ${id}: ${out}`);
  const cells = {};
  let pos = 0, rest = line;
  cols.forEach((c, i) => {
    if (!c.header) return;
    const start = pos + (i === 0 ? 0 : c.width ? 1 : 2);
    pos = c.width ? start + c.width : line.length;
    cells[c.label] = line.slice(start, pos).trim();
    rest = line.slice(pos);
  });
  //  The mark sits past the elastic column's cell, which runs to the end
  const mark = cols.find((c) => !c.header);
  if (mark) {
    const last = cols.filter((c) => c.header).pop().label;
    const at = cells[last].indexOf('[stale:');
    cells[mark.label] = at >= 0 ? cells[last].slice(at) : rest.trim();
    if (at >= 0) cells[last] = cells[last].slice(0, at).trim();
  }
  return cells;
}

// The (node, name) pairs of the rows the page shows now
async function pageRows(page) {
  return page.$$eval('#rows tr', (trs) => trs.map((tr) => `${tr.dataset.node}/${tr.dataset.name}`));
}
// The page's own /api/v1/streams answers, in order. The simulator churns
// bitrates and clients every second, so comparing the page with a separate
// API call is a race; comparing it with the answer the page itself received
// for exactly the query under test is not.
const answers = [];
function recordAnswers(page) {
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/api/v1/streams' && r.ok()) answers.push({ q: u.searchParams, json: r.json().catch(() => null) });
  });
}
function sameQuery(got, want) {
  return ['filter', 'name', 'node', 'sort', 'cursor', 'limit'].every((k) => (got.get(k) || '') === (want.get(k) || ''));
}
// Waits until the page asked the API exactly `query` (plus limit) and shows
// the rows of that answer, in order; returns the answer
async function rowsMatchApi(page, query, limit = 100) {
  const want = new URLSearchParams(query);
  want.set('limit', String(limit));
  let rows = [], have = [];
  for (let i = 0; i < 60; i++) {
    const mine = answers.filter((a) => sameQuery(a.q, want));
    if (mine.length) {
      const data = await mine[mine.length - 1].json;
      rows = data ? data.streams.map((s) => `${s.node}/${s.name}`) : [];
      have = await pageRows(page);
      if (data && rows.join('\n') === have.join('\n') && (rows.length || data.total === 0)) return data;
    }
    await sleep(200);
  }
  throw new Error(`the page does not show the API's answer to ${want}: page has ${have.length} (${have.slice(0, 3)}), answer ${rows.length} (${rows.slice(0, 3)})`);
}

async function main() {
  if (!HTTP) { console.log('not ok - SF_HTTP is set # run from tests/integration/61_web_page.sh'); process.exit(1); }
  const browser = await chromium.launch({
    executablePath: process.env.SF_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  const page = await context.newPage();
  recordAnswers(page);
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) external.push(r.url()); });
  const asked = [];
  page.on('request', (r) => { if (r.url().startsWith(BASE)) asked.push(new URL(r.url()).pathname); });

  try {
    await check('page loads from the controller and lists streams', async () => {
      await page.goto(BASE + '/' + (TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : ''));
      await page.waitForSelector('#rows tr', 15000);
      const data = await rowsMatchApi(page, 'sort=name');
      const count = await page.textContent('#count');
      assert(count.replace(/,/g, '').startsWith(String(data.total)), `count line '${count}' is not ${data.total}`);
    });

    await check('the columns come inside the page (no GET /api/v1/columns), the same as the API gives', async () => {
      const want = (await api('/api/v1/columns')).columns.map((c) => c.label);
      const have = await page.$$eval('#streams thead th', (ths) => ths.map((th) => th.textContent.trim()));
      assert(have.slice(1).join(',') === want.join(','), `header ${have.join(',')} is not № and ${want.join(',')}`);
      assert(!asked.includes('/api/v1/columns'), `the page asked ${asked.filter((p) => p.startsWith('/api/')).join(' ')}`);
    });

    await check('the eight filter chips and Conflict are there', async () => {
      const chips = await page.$$eval('.chip', (cs) => cs.map((c) => c.textContent.trim()));
      assert(chips.join(',') === 'Primary,Secondary,Migrated,Transfer,Conflict,Active,Suspend,DVR,Audio', chips.join(','));
    });

    await check('nothing on the page animates forever (an endless animation repaints every frame)', async () => {
      const endless = await page.evaluate(() => document.getAnimations()
        .filter((a) => a.effect && a.effect.getTiming().iterations === Infinity)
        .map((a) => `${a.animationName || a.id || 'animation'} on ${a.effect.target ? a.effect.target.className : '?'}`));
      assert(endless.length === 0, `running endlessly: ${endless.join(', ')}`);
    });

    await check('chips Primary+DVR show the rows the API gives for filter=primary,dvr', async () => {
      await page.click('.chip[data-param=primary]');
      await page.click('.chip[data-param=dvr]');
      const data = await rowsMatchApi(page, 'filter=primary,dvr&sort=name');
      assert(data.streams.every((s) => s.type === 'primary' && s.functions.includes('dvr')), 'API rows break the filter');
      //  Rows of the last answer are reused for the new ones: every cell is redrawn
      const cells = await page.$$eval('#rows tr', (trs) => trs.map((tr) =>
        `${tr.querySelector('.c-node').textContent}/${tr.querySelector('.nm').textContent}/${tr.querySelector('[data-icon]').dataset.icon}`));
      const want = data.streams.map((s) => `${s.node}/${s.name}/${s.type}`);
      assert(cells.join('\n') === want.join('\n'), `cells ${cells.slice(0, 2)} are not the answer's ${want.slice(0, 2)}`);
    });

    await check('chips in one group are OR-ed: Active+Suspend with DVR', async () => {
      await page.click('.chip[data-param=primary]');
      await page.click('.chip[data-param=active]');
      await page.click('.chip[data-param=suspend]');
      await rowsMatchApi(page, 'filter=active,suspend,dvr&sort=name');
    });

    await check('name filter (glob) narrows the rows as the API does', async () => {
      await page.click('#q-clear');
      const first = (await api('/api/v1/streams?limit=1&sort=name')).streams[0].name;
      const glob = first.slice(0, Math.max(1, first.length - 1)) + '*';
      await page.fill('#q-name', glob);
      await rowsMatchApi(page, `name=${encodeURIComponent(glob)}&sort=name`);
      await page.fill('#q-name', '');
      await rowsMatchApi(page, 'sort=name');
    });

    await check('clicking the Bitrate header sorts by bitrate, descending', async () => {
      await page.click('th[data-sort=bitrate]');
      try {
        const data = await rowsMatchApi(page, 'sort=-bitrate');
        const kbps = data.streams.map((s) => s.bitrate_kbps);
        assert(kbps.every((v, i) => i === 0 || kbps[i - 1] >= v), 'answer not by descending bitrate');
        assert(await page.$('th[data-sort=bitrate].sorted.desc'), 'header not marked sorted');
      } finally {
        await page.click('th[data-sort=name]');
        await rowsMatchApi(page, 'sort=name');
      }
    });

    await check('paging: Next shows the API page at cursor=limit', async () => {
      await page.selectOption('#page-size', '50');
      await rowsMatchApi(page, 'sort=name', 50);
      const total = (await api('/api/v1/streams?limit=0')).total;
      if (total <= 50) return;
      await page.click('#pg-next');
      await rowsMatchApi(page, 'sort=name&cursor=50', 50);
      const first = await page.textContent('#rows tr:first-child td.c-num');
      assert(first.trim() === '51', `first row number is ${first}`);
      await page.click('#pg-first');
      await page.selectOption('#page-size', '100');
      await rowsMatchApi(page, 'sort=name');
    });

    // A DVR stream with ranges on its node, to copy a link from
    const dvrList = await api('/api/v1/streams?filter=dvr&limit=50&sort=name');
    let target = null, timeline = null;
    for (const s of dvrList.streams) {
      const t = await api(`/api/v1/streams/${encodeURIComponent(s.name)}/dvr`);
      if (t.ranges.length) { target = s; timeline = t; break; }
    }
    await check('a stream\'s detail opens with its tabs', async () => {
      assert(target, 'no DVR stream with ranges in the fleet');
      await page.fill('#q-name', target.name);
      const row = `#rows tr[data-name="${target.name}"][data-node="${target.node}"]`;
      await page.waitForSelector(row, 10000);
      await page.click(row);
      await page.waitForSelector('#detail:not([hidden]) .kv', 10000);
      const tabs = await page.$$eval('.tab', (ts) => ts.map((t) => t.textContent.trim()));
      assert(tabs.join(',') === 'Overview,DVR ranges,Config,Source,UUID,Alerts', tabs.join(','));
      const body = await page.textContent('#d-body');
      for (const label of ['Records path', 'Duration', 'Ranges', 'Available disk space', 'Chunk', 'Memory usage'])
        assert(body.includes(label), `overview lacks ${label}`);
      assert((await page.textContent('#d-title')).includes(target.name), 'title lacks the name');
    });

    await check('DVR ranges: Copy HLS puts the range\'s HLS link on the clipboard', async () => {
      await page.click('.tab[data-tab=dvr]');
      await page.waitForSelector('button[data-copy=hls][data-index="0"]');
      const nrows = await page.$$eval('#d-body tbody tr', (t) => t.length);
      assert(nrows === timeline.ranges.length, `${nrows} ranges shown, API has ${timeline.ranges.length}`);
      // The range's end moves while the page refreshes live: the clipboard must
      // hold the API's link for range 0 as it stood at the copy or stands now
      const copied = async (kind) => {
        await page.evaluate(() => navigator.clipboard.writeText('nothing yet'));
        await page.click(`button[data-copy=${kind}][data-index="0"]`);
        let clip = '', want = timeline.ranges[0][kind];
        for (let i = 0; i < 20 && clip !== want; i++) {
          await sleep(100);
          clip = await page.evaluate(() => navigator.clipboard.readText());
          const now = await api(`/api/v1/streams/${encodeURIComponent(target.name)}/dvr`);
          want = clip === timeline.ranges[0][kind] ? clip : now.ranges[0][kind];
        }
        assert(want && clip === want, `${kind} copy gave '${clip}', want '${want}'`);
      };
      await copied('hls');
      await copied('rtsp');
    });

    await check('Config, Source and UUID tabs show the API\'s texts', async () => {
      const d = await api(`/api/v1/streams/${encodeURIComponent(target.name)}?node=${encodeURIComponent(target.node)}`);
      const p = d.placements[0];
      await page.click('.tab[data-tab=config]');
      const cfg = await page.textContent('#d-body pre');
      assert(cfg === (p.config || '(no configuration reported)'), 'config text differs');
      await page.click('.tab[data-tab=source]');
      const src = await page.textContent('#d-body');
      assert(src.includes(p.source.url), 'source url missing');
      await page.click('button[data-copy=sdp]');
      await sleep(200);
      const clip = await page.evaluate(() => navigator.clipboard.readText());
      assert(clip === p.source.sdp, 'SDP copy differs');
      await page.click('.tab[data-tab=uuid]');
      if (p.playback_uuid) assert((await page.textContent('#d-body')).includes(p.playback_uuid), 'uuid missing');
      await page.click('.tab[data-tab=overview]');
    });

    if (process.env.SF_PUSH) {
      const node = process.env.SF_PUSH_NODE;
      await check('a pushed change shows in the row without a reload', async () => {
        await page.click('#d-close');
        const name = 'webpush-cam';
        let ans = await push([{ name, status: 'active', clients: 3, bitrate_kbps: 900, functions: ['dvr'] }]);
        assert(ans.startsWith('ok'), `push answered '${ans}'`);
        await page.fill('#q-name', name);
        const cell = `#rows tr[data-name="${name}"][data-node="${node}"] td.c-clients`;
        await waitFor(page, (sel) => document.querySelector(sel) && document.querySelector(sel).textContent === '3',
                                   cell, 15000);
        const navs = [];
        page.on('framenavigated', (f) => { if (f === page.mainFrame()) navs.push(f.url()); });
        ans = await push([{ name, clients: 17, bitrate_kbps: 2500 }]);
        assert(ans.startsWith('ok'), `push answered '${ans}'`);
        await waitFor(page, (sel) => document.querySelector(sel).textContent === '17', cell, 15000);
        const bitrate = await page.textContent(cell.replace('c-clients', 'c-bitrate'));
        assert(bitrate === '2.5 Mbit/s', `bitrate cell says ${bitrate}`);
        const flashed = await page.$eval(cell, (td) => td.classList.contains('changed'));
        assert(flashed, 'the changed cell is not highlighted');
        assert(navs.length === 0, `the page reloaded (${navs})`);
      });
    } else {
      await check('live refresh re-reads the page without a reload', async () => {
        const before = await page.textContent('#updated');
        await sleep(2600);
        const after = await page.textContent('#updated');
        assert(before !== after, 'no refresh in 2.6 s');
      });
    }

    if (process.env.SF_PUSH && process.env.SF_PUSH2) {
      // A migration, pushed: mig-cam runs on node A with an archive, node B
      // takes it over (transferred from A) with its own archive, A stops it
      const A = process.env.SF_PUSH_NODE, B = process.env.SF_PUSH2_NODE, P2 = process.env.SF_PUSH2;
      const now = Math.floor(Date.now() / 1000);
      const name = 'mig-cam';
      await check('a migration shows: migrated chip, detail over both nodes, Migrations view', async () => {
        let ans = await push([{ name, status: 'active', started_at: now, functions: ['dvr'], dvr: { ranges: [[now - 100, now - 50]] } }]);
        assert(ans === 'ok', `push A: ${ans}`);
        for (let i = 0; i < 40 && !(await api(`/api/v1/streams?name=${name}&node=${A}&limit=0`)).total; i++) await sleep(250);
        ans = await push([{ name, status: 'active', started_at: now, transferred_from: A, functions: ['dvr'], dvr: { ranges: [[now - 40, now - 10]] } }], P2);
        assert(ans === 'ok', `push B: ${ans}`);
        for (let i = 0; i < 40 && !(await api(`/api/v1/streams?name=${name}&node=${B}&limit=0`)).total; i++) await sleep(250);
        ans = await push([{ name, status: 'suspend', started_at: 0 }]);
        assert(ans === 'ok', `push A stop: ${ans}`);
        let mig = null;
        for (let i = 0; i < 60; i++) {
          mig = await api(`/api/v1/migrations?stream=${name}&kind=migrated`);
          if (mig.count) break;
          await sleep(250);
        }
        assert(mig.count === 1 && mig.events[0].from === A && mig.events[0].to === B, `API events: ${JSON.stringify(mig.events)}`);
        // The Migrated chip lists A's placement, marked as migrated to B
        await page.click('a[data-view=streams]');
        await page.click('#q-clear');
        await page.fill('#q-name', name);
        await page.click('.chip[data-param=migrated]');
        const row = `#rows tr[data-name="${name}"][data-node="${A}"]`;
        await page.waitForSelector(`${row} [data-icon=migrated]`, { timeout: 10000 });
        const tag = await page.textContent(`${row} .tag.migrated`);
        assert(tag.includes(B), `migrated tag says '${tag}'`);
        await rowsMatchApi(page, `filter=migrated&name=${name}&sort=name`);
        // Its detail: both placements, and DVR ranges over both nodes
        await page.click(row);
        await page.waitForSelector('#d-placements .placement', { timeout: 10000 });
        const nodes = await page.$$eval('#d-placements .placement', (ps) => ps.map((p) => p.dataset.node).sort());
        assert(nodes.join(',') === [A, B].sort().join(','), `placements ${nodes}`);
        await page.click('.tab[data-tab=overview]');
        await waitFor(page, (b) => { const t = document.querySelector('#d-body').textContent;
          return t.includes(`Lives on ${b} now`) && document.querySelector('.history .badge') &&
                 [...document.querySelectorAll('.history .badge')].some((x) => x.textContent === 'migrated'); }, B, 10000);
        await page.click('.tab[data-tab=dvr]');
        await waitFor(page, () => document.querySelectorAll('#d-body tbody tr').length === 2, null, 10000);
        const tl = await api(`/api/v1/streams/${name}/dvr`);
        const shownNodes = await page.$$eval('#d-body tbody tr td:nth-child(5)', (tds) => tds.map((t) => t.textContent));
        assert(shownNodes.join(',') === tl.ranges.map((r) => r.node).join(','), `ranges on ${shownNodes}`);
        await page.click('button[data-copy=hls][data-index="0"]');
        await sleep(200);
        const clip = await page.evaluate(() => navigator.clipboard.readText());
        assert(clip === tl.ranges[0].hls && tl.ranges[0].node === A, `clipboard '${clip}'`);
        await page.click('#d-close');
        await page.click('#q-clear');
        // The Migrations view shows the event
        await page.click('a[data-view=migrations]');
        await waitFor(page, (n) => [...document.querySelectorAll('#mig-rows tr')].some((tr) =>
          tr.textContent.includes(n) && tr.textContent.includes('migrated')), name, 10000);
      });
    }

    await check('Nodes view lists the API\'s nodes with liveness', async () => {
      if (await page.isVisible('#d-close')) await page.click('#d-close');
      await page.click('a[data-view=nodes]');
      const nodes = await api('/api/v1/nodes');
      await waitFor(page, (n) => document.querySelectorAll('#node-rows tr').length === n, nodes.count, 10000);
      const ids = await page.$$eval('#node-rows tr', (trs) => trs.map((t) => t.dataset.node));
      assert(ids.join(',') === nodes.nodes.map((n) => n.id).join(','), `${ids} vs API`);
    });

    await check('Nodes view: its header is GET /api/v1/columns\' node labels, in order', async () => {
      const want = (await api('/api/v1/columns')).nodes.map((c) => c.label);
      const have = await page.$$eval('#nodes thead th', (ths) => ths.map((th) => th.textContent));
      assert(have.join('|') === want.join('|'), `header ${have.join('|')} is not ${want.join('|')}`);
      const cells = await page.$$eval('#node-rows tr:first-child td', (tds) => tds.length);
      assert(cells === want.length, `a row has ${cells} cells for ${want.length} columns`);
    });

    // The cells that do not move between two reads a second apart: the
    // heartbeat age, CPU, memory and the simulated bitrates do, so they are
    // left out (their formats' renderers are the same code as these)
    const STEADY = ['word', 'liveness', 'int', 'limit', 'disks', 'stale'];
    await check('Nodes view: a simulated node\'s cells read as `streamfleet nodes` prints them', async () => {
      if (!process.env.SF_CLI) throw new Error('SF_CLI is not set');
      const cols = (await api('/api/v1/columns')).nodes;
      const steady = cols.filter((c) => STEADY.includes(c.format));
      assert(steady.some((c) => c.format === 'limit'), 'no limit column to compare');
      const id = 'n1';
      let diff = '';
      for (let i = 0; i < 8; i++) {
        const cli = cliNodeCells(cols, id);
        const have = await page.$$eval(`#node-rows tr[data-node="${id}"] td`, (tds) => tds.map((td) => td.textContent));
        diff = steady.map((c) => [c.label, have[cols.indexOf(c)], cli[c.label]])
          .filter(([, p, q]) => p !== q).map(([l, p, q]) => `${l || '(mark)'}: page '${p}', CLI '${q}'`).join('; ');
        if (!diff) return;
        await sleep(1000);
      }
      throw new Error(diff);
    });

    await check('Nodes view: a row opens the node\'s detail (addresses, version), which lists its streams', async () => {
      const nodes = await api('/api/v1/nodes');
      const n = nodes.nodes.find((x) => x.id === 'n1');
      await page.click('#node-rows tr[data-node="n1"]');
      await page.waitForSelector('#node-detail:not([hidden]) .kv');
      assert((await page.textContent('#nd-title')) === 'n1', 'title');
      const kv = await page.$$eval('#nd-body dl.kv:first-of-type > *', (els) => els.map((e) => e.textContent));
      const val = (k) => kv[kv.indexOf(k) + 1];
      assert(val('Software version') === n.software_version, `version '${val('Software version')}' is not '${n.software_version}'`);
      assert(kv.includes('External address') && kv.includes('Internal address'), `no addresses in ${kv.join('|')}`);
      await page.click('#nd-streams');
      await waitFor(page, () => !document.querySelector('#view-streams').hidden && document.querySelector('#node-detail').hidden, null, 5000);
      const rows = await rowsMatchApi(page, 'node=n1&sort=name');
      assert(rows.streams.length && rows.streams.every((s) => s.node === 'n1'), 'the listing is not n1\'s');
      await page.click('#q-clear');
    });

    await check('Nodes view: a node column added to the columns shows with no change to the page', async () => {
      // The controller's answer with one more line (an existing format), as a
      // new SF_NODE_COLS line would serve it
      const p3 = await context.newPage();
      await p3.route(BASE + '/', async (route) => {
        const r = await route.fetch();
        const html = (await r.text()).replace(/(<script type="application\/json" id="sf-columns">)(.*?)(<\/script>)/s, (m, a, json, b) => {
          const cols = JSON.parse(json);
          cols.nodes.splice(1, 0, { path: 'software_version', with: null, header: 'VERSION', label: 'Version (added)', width: 8, format: 'word' });
          return a + JSON.stringify(cols) + b;
        });
        await route.fulfill({ response: r, body: html });
      });
      await p3.goto(BASE + '/' + (TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : '') + '#/nodes');
      await p3.waitForSelector('#node-rows tr[data-node="n1"]', { timeout: 10000 });
      const head = await p3.$$eval('#nodes thead th', (ths) => ths.map((th) => th.textContent));
      const cell = await p3.textContent('#node-rows tr[data-node="n1"] td:nth-child(2)');
      const n1 = (await api('/api/v1/nodes')).nodes.find((x) => x.id === 'n1');
      await p3.close();
      assert(head[1] === 'Version (added)', `header ${head.join('|')}`);
      assert(cell === n1.software_version, `cell '${cell}' is not '${n1.software_version}'`);
    });

    await check('Migrations view shows the API\'s events', async () => {
      await page.click('a[data-view=migrations]');
      const mig = await api('/api/v1/migrations?limit=500');
      await waitFor(page, () => !document.querySelector('#mig-count').textContent.startsWith('Loading'), null, 10000);
      const n = await page.$$eval('#mig-rows tr', (t) => t.length);
      assert(n === mig.count, `${n} rows, API has ${mig.count}`);
    });

    if (process.env.SF_PERF) {
      await page.click('a[data-view=streams]');
      await page.fill('#q-name', '');
      await page.click('#q-clear');
      await rowsMatchApi(page, 'sort=name');
      const t = [];
      for (let i = 0; i < 10; i++) {
        const before = await page.textContent('#rows tr:first-child td.c-num');
        const t0 = Date.now();
        await page.click('#pg-next');
        await waitFor(page, (b) => document.querySelector('#rows tr:first-child td.c-num').textContent !== b, before);
        t.push(Date.now() - t0);
      }
      t.sort((a, b) => a - b);
      console.log(`# perf: next page (100 rows) click-to-rows p50 ${t[5]} ms, max ${t[9]} ms`);
      const t0 = Date.now();
      await page.click('#pg-last');
      await waitFor(page, () => document.querySelector('#pg-next').disabled, null);
      console.log(`# perf: last page click-to-rows ${Date.now() - t0} ms`);
      const t1 = Date.now();
      await page.click('.chip[data-param=secondary]');
      await waitFor(page, () => [...document.querySelectorAll('#rows tr')].every((tr) => tr.querySelector('[data-icon=secondary]')), null);
      console.log(`# perf: chip Secondary click-to-rows ${Date.now() - t1} ms`);
      await page.click('#q-clear');
    }

    await check('screenshot saved', async () => {
      await page.setViewportSize({ width: 1800, height: 960 });
      await page.click('a[data-view=streams]');
      await page.fill('#q-name', '');
      await page.click('#q-clear');
      await page.waitForSelector('#rows tr');
      const dvr = target ? `#rows tr[data-name="${target.name}"][data-node="${target.node}"]` : '#rows tr';
      await page.click('.chip[data-param=dvr]');
      await page.waitForSelector(dvr, 10000);
      await page.click(dvr);
      await page.waitForSelector('#detail:not([hidden]) .kv');
      await page.click('.tab[data-tab=dvr]');
      await page.waitForSelector('button[data-copy=hls]');
      await sleep(400);
      await page.screenshot({ path: SHOT });
    });

    if (process.env.SF_TOKEN_HTTP) {
      await check('with a token: the page asks for it, then shows the fleet', async () => {
        const base = `http://${process.env.SF_TOKEN_HTTP}`;
        const p2 = await context.newPage();
        const errors = [];
        p2.on('pageerror', (e) => errors.push(e.message));
        await p2.goto(base + '/');
        await p2.waitForSelector('#token-dialog[open]', { timeout: 10000 });
        await p2.fill('#token-input', process.env.SF_TOKEN_VALUE);
        await p2.click('#token-form button[type=submit]');
        await waitFor(p2, () => /^\d[\d,]* streams?$/.test(document.querySelector('#count').textContent)
                                && document.querySelector('#error').hidden, null, 10000);
        assert(!(await p2.$('#token-dialog[open]')), 'dialog still open');
        assert(errors.length === 0, errors.join(' | '));
        await p2.close();
      });
    }

    await check('no script errors and nothing fetched from outside the controller', async () => {
      assert(consoleErrors.length === 0, consoleErrors.join(' | '));
      assert(external.length === 0, external.join(' '));
    });
  } finally {
    await browser.close();
  }
  process.exit(failures ? 1 : 0);
}

main().catch((e) => { console.log(`not ok - web test ran # ${e.message}`); process.exit(1); });
