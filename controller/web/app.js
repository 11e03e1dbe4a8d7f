/* streamfleet web page: the fleet's Streams page, Nodes and Migrations.

   Everything comes from the controller's JSON API (docs/http-api.md); the
   filter, sorting and paging are the server's (the one filter evaluator of
   DESIGN §3), so the page holds at most one page of rows however large the
   fleet is. Live refresh follows the controller's change feed (GET
   /api/v1/changes, a long-poll): the current page is re-read when something
   was committed (at most every REFRESH_MS, and at least every SLOW_MS for
   what is derived without a commit, a node going down), updating only the
   cells that changed, so the table never flickers or loses its scroll.
   Untrusted text (names, URLs, configs) is only ever set as textContent. */
'use strict';

const PARAMS = ['primary', 'secondary', 'migrated', 'transfer', 'conflict', 'active', 'suspend', 'dvr', 'audio'];
const REFRESH_MS = 1000;
const SLOW_MS = 10000;
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const state = {
  view: 'streams',
  params: new Set(), name: '', node: '', sort: 'name', desc: false,
  offset: 0, limit: 100, total: 0,
  live: true,
  detail: null,          // { name, node, tab, data, dvr }
};
let token = sessionStorage.getItem('streamfleet-token') || '';

/* ---------- small helpers ---------- */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const ICONS = {
  primary: '<circle cx="8" cy="8" r="5.5"/><circle cx="8" cy="8" r="2.2" fill="currentColor"/>',
  secondary: '<circle cx="8" cy="8" r="5.5" stroke-dasharray="2.4 2"/>',
  migrated: '<path d="M2.5 8h10M9 4.5L12.5 8 9 11.5"/>',
  dvr: '<circle cx="8" cy="8" r="5.8"/><circle cx="8" cy="8" r="2.6" fill="currentColor"/>',
  photo: '<rect x="1.8" y="4.6" width="12.4" height="8.6" rx="1.8"/><circle cx="8" cy="8.9" r="2.3"/><path d="M5.6 4.6l1-1.9h2.8l1 1.9"/>',
  audio: '<path d="M2.2 6.2h2.6L8.4 3.3v9.4L4.8 9.8H2.2z" fill="currentColor"/><path d="M10.8 5.8a3 3 0 010 4.4M12.6 4a5.6 5.6 0 010 8"/>',
};
const ICON_TITLES = {
  primary: 'Primary stream', secondary: 'Secondary (standby) stream',
  migrated: 'Migrated: the stream moved to another server; its archive stays here',
  dvr: 'DVR recording', photo: 'Screenshots', audio: 'Audio track',
};
//  Each icon is parsed once and cloned after that: a page of 100 rows draws
//  about 300 of them, and parsing SVG markup each time was most of a render
const iconTemplates = new Map();
function icon(kind, cls) {
  let tpl = iconTemplates.get(kind);
  if (!tpl) {
    tpl = h('span', { title: ICON_TITLES[kind] || kind, 'data-icon': kind });
    tpl.innerHTML = `<svg class="ico" viewBox="0 0 16 16" aria-hidden="true">${ICONS[kind] || ''}</svg>`;
    iconTemplates.set(kind, tpl);
  }
  const span = tpl.cloneNode(true);
  if (cls) span.className = cls;
  return span;
}

const nf = new Intl.NumberFormat('en-US');
function fmtInt(n) { return nf.format(n || 0); }
function fmtBitrate(kbps) {
  if (!kbps) return '0 kbit/s';
  if (kbps >= 1000) return (kbps / 1000).toFixed(kbps >= 100000 ? 0 : 1) + ' Mbit/s';
  return kbps + ' kbit/s';
}
function fmtDuration(s) {
  if (!s || s < 0) return '—';
  const d = Math.floor(s / 86400), hr = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60), sec = Math.floor(s % 60);
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}
function fmtBytes(b) {
  if (b === null || b === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0, v = b;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(v >= 100 ? 0 : 1) : v) + ' ' + u[i];
}
function pad(n) { return String(n).padStart(2, '0'); }
function fmtTime(unix) {
  if (!unix) return '—';
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function statusBadge(status) {
  return h('span', { class: `badge s-${status}`, text: status });
}

let toastTimer = null;
function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 1800);
}

/* Copies text. navigator.clipboard needs a secure context (https or
   localhost); on a plain-http remote address the textarea fallback works. */
async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    const ta = h('textarea', { readonly: true });
    ta.value = text;
    ta.style.position = 'fixed'; ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    try { document.execCommand('copy'); } catch (e2) { /* nothing more to try */ }
    ta.remove();
  }
  toast(`Copied ${what}`);
}
function copyButton(label, text, what, extra) {
  return h('button', Object.assign({ class: 'btn small', disabled: !text,
    onclick: (ev) => { ev.stopPropagation(); copyText(text, what); } }, extra || {}), label);
}
function copyRow(text, what, extra) {
  return h('div', { class: 'copy-row' }, h('code', { text: text || '—', title: text || '' }),
           copyButton('Copy', text, what, extra));
}

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
async function api(path) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const r = await fetch(path, { headers, cache: 'no-store' });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (r.status === 401) askToken();
  if (!r.ok) {
    const err = body && body.error ? body.error : {};
    throw new ApiError(r.status, err.code || 'http', err.message || `${r.status} ${r.statusText}`);
  }
  return body;
}
function askToken() {
  const d = $('#token-dialog');
  if (!d.open) { $('#token-input').value = token; d.showModal(); }
}

/* ---------- URL state: the view and the streams query live in the hash ---------- */

function filterParam() { return PARAMS.filter((p) => state.params.has(p)).join(','); }
function writeHash() {
  const q = new URLSearchParams();
  if (state.view === 'streams') {
    if (state.params.size) q.set('filter', filterParam());
    if (state.name) q.set('name', state.name);
    if (state.node) q.set('node', state.node);
    if (state.sort !== 'name' || state.desc) q.set('sort', (state.desc ? '-' : '') + state.sort);
    if (state.offset) q.set('cursor', String(state.offset));
    if (state.limit !== 100) q.set('limit', String(state.limit));
  }
  const qs = q.toString();
  const hash = `#/${state.view}${qs ? '?' + qs : ''}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}
function readHash() {
  const m = /^#\/(\w+)(?:\?(.*))?$/.exec(location.hash || '');
  state.view = m && ['streams', 'nodes', 'migrations', 'alerts'].includes(m[1]) ? m[1] : 'streams';
  if (state.view !== 'streams') return;
  const q = new URLSearchParams(m && m[2] ? m[2] : '');
  state.params = new Set((q.get('filter') || '').split(',').filter((p) => PARAMS.includes(p)));
  state.name = q.get('name') || '';
  state.node = q.get('node') || '';
  const sort = q.get('sort') || 'name';
  state.desc = sort.startsWith('-');
  state.sort = state.desc ? sort.slice(1) : sort;
  state.offset = Math.max(0, parseInt(q.get('cursor') || '0', 10) || 0);
  const limit = parseInt(q.get('limit') || '100', 10);
  state.limit = [50, 100, 250, 500].includes(limit) ? limit : 100;
  //  An alert's link (its webhook payload's links.web, the API's `link`):
  //  the listing of that stream with its detail open
  state.openDetail = q.get('detail') === '1' && state.name && state.node ? { name: state.name, node: state.node } : null;
}
function openLinkedDetail() {
  const o = state.openDetail;
  state.openDetail = null;
  if (o) openDetail(o.name, o.node);
}

/* ---------- Streams view ---------- */

let streamsSeq = 0;
const rowsByKey = new Map();
function rowKey(s) { return `${s.node}\u0000${s.name}`; }

function streamsQuery(offset, limit) {
  const q = new URLSearchParams();
  if (state.params.size) q.set('filter', filterParam());
  if (state.name) q.set('name', state.name);
  if (state.node) q.set('node', state.node);
  q.set('sort', (state.desc ? '-' : '') + state.sort);
  q.set('limit', String(limit));
  if (offset) q.set('cursor', String(offset));
  return q;
}

async function loadStreams() {
  const seq = ++streamsSeq;
  try {
    //  The columns (once) and the rows, asked at the same time
    const [data] = await Promise.all([api('/api/v1/streams?' + streamsQuery(state.offset, state.limit)), loadColumns()]);
    if (seq !== streamsSeq) return;      // a newer query answered or is on its way
    //  The fleet shrank under our page: show its last page instead of nothing
    if (data.total > 0 && data.count === 0 && state.offset > 0) {
      state.offset = Math.floor((data.total - 1) / state.limit) * state.limit;
      writeHash();
      return loadStreams();
    }
    state.total = data.total;
    renderStreams(data);
    showError('');
  } catch (e) {
    if (seq === streamsSeq) showError(e.message);
  }
}
function showError(msg) {
  const el = $('#error');
  el.textContent = msg;
  el.hidden = !msg;
}

/* The listing's columns come from the controller (GET /api/v1/columns: the
   field table's COL lines, include/sf_fields.h), so a new listed field shows
   here without a change to this page. Each column's format says how a cell
   is drawn; name and status are the composite cells (type, function and
   state marks). Each cell: a text (compared to find changes) and a way to
   draw it. */
const NUMERIC = ['int', 'kbps', 'age', 'pair'];
function at(s, path) {
  let v = s;
  for (const k of path.split('.')) v = v == null ? v : v[k];
  return v;
}
const FORMATS = {
  name: () => ({ text: (s) => [s.name, s.type, s.functions.join(','), s.transfer, s.conflict, s.stale].join('|'),
    draw: (td, s) => {
      td.replaceChildren(h('span', { class: 'name-cell' },
        icon(s.type, `t-${s.type}`),
        h('span', { class: 'nm', text: s.name }),
        h('span', { class: 'fns' }, s.functions.map((f) => icon(f, `f-${f}`))),
        s.transfer ? h('span', { class: 'tag transfer', title: 'Moving between two servers now', text: 'transfer' }) : null,
        s.conflict ? h('span', { class: 'tag conflict', title: 'Runs on two servers and is not moving between them', text: 'conflict' }) : null,
        s.stale ? h('span', { class: 'tag stale', title: "The node's source failed; last known state", text: 'stale' }) : null,
        s.migrated_to ? h('span', { class: 'tag migrated', text: `→ ${s.migrated_to}` }) : null));
    } }),
  word: (c) => ({ text: (s) => String(at(s, c.path) ?? '') }),
  status: (c) => ({ text: (s) => at(s, c.path), draw: (td, s) => td.replaceChildren(statusBadge(at(s, c.path))) }),
  int: (c) => ({ text: (s) => fmtInt(at(s, c.path)) }),
  kbps: (c) => ({ text: (s) => fmtBitrate(at(s, c.path)) }),
  //  A time it started: how long ago, while the stream runs (uptime)
  age: (c) => ({ quiet: true,
    text: (s, i, now) => fmtDuration(s.status === 'active' && at(s, c.path) > 0 ? now - at(s, c.path) : 0) }),
  pair: (c) => ({ text: (s) => `${at(s, c.path) ?? 0}/${(c.pair && at(s, c.pair)) ?? 0}` }),
  url: (c) => ({ text: (s) => at(s, c.path) || '—' }),
};
let CELLS = [];
let NODE_COLS = [];       // GET /api/v1/columns' "nodes": the Nodes view's columns
let columnsAsked = null;
/* The columns (the Streams table's, and the Nodes view's): the ones the
   controller wrote into the page (#sf-columns), so the header is drawn at
   once and the first rows wait for one request; else asked once (again
   after a failure: a missing token, say) */
function loadColumns() {
  if (!columnsAsked) {
    let given = null;
    try { given = JSON.parse($('#sf-columns').textContent || 'null'); } catch (e) { given = null; }
    if (given && Array.isArray(given.columns)) {
      buildColumns(given.columns);
      NODE_COLS = given.nodes || [];
      columnsAsked = Promise.resolve(CELLS);
      return columnsAsked;
    }
    columnsAsked = api('/api/v1/columns').then((data) => {
      buildColumns(data.columns);
      NODE_COLS = data.nodes || [];
      return CELLS;
    });
    columnsAsked.catch(() => { columnsAsked = null; });
  }
  return columnsAsked;
}
function buildColumns(columns) {
  const tr = $('#streams thead tr');
  tr.replaceChildren(h('th', { class: 'c-num', text: '№' }));
  CELLS = [{ cls: 'c-num', text: (s, i) => fmtInt(state.offset + i + 1), quiet: true }];
  for (const c of columns) {
    const make = FORMATS[c.format] || FORMATS.word;
    const num = NUMERIC.includes(c.format);
    const cls = `c-${c.sort || c.path.replace(/\./g, '-')}${num ? ' num' : ''}`;
    CELLS.push({ cls, ...make(c) });
    const th = h('th', { class: `${cls}${c.sort ? ' sortable' : ''}`, 'data-sort': c.sort, text: c.label });
    if (c.sort) {
      th.addEventListener('click', () => {
        if (state.sort === c.sort) state.desc = !state.desc;
        else { state.sort = c.sort; state.desc = num; }
        queryChanged();
      });
    }
    tr.append(th);
  }
}

/* Draws a cell if its text changed; a changed cell of a row already shown
   goes into flash (its highlight is restarted once all rows are drawn) */
function drawCell(td, cell, s, i, isNew, now, flash) {
  const text = cell.text(s, i, now);
  if (td.dataset.v === text) return;
  const changed = !isNew && td.dataset.v !== undefined;
  td.dataset.v = text;
  if (cell.draw) cell.draw(td, s); else td.textContent = text;
  if (cell.cls.startsWith('c-source')) td.title = text;
  if (changed && !cell.quiet) flash.push(td);
}

function newRow() {
  const tr = h('tr', { tabindex: '0' });
  for (const c of CELLS) tr.append(h('td', { class: c.cls }));
  tr.addEventListener('click', () => openDetail(tr.dataset.name, tr.dataset.node));
  tr.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') openDetail(tr.dataset.name, tr.dataset.node);
    if (ev.key === 'ArrowDown' && tr.nextElementSibling) { ev.preventDefault(); tr.nextElementSibling.focus(); }
    if (ev.key === 'ArrowUp' && tr.previousElementSibling) { ev.preventDefault(); tr.previousElementSibling.focus(); }
  });
  return tr;
}

/* A row already shown keeps its element (only the cells that changed are
   redrawn, and flash). The rows of the last answer that this one lacks are
   reused for its new rows (a chip, a sort, another page replace them all):
   their cells are redrawn, without a flash, and nothing is built again. */
function renderStreams(data) {
  const tbody = $('#rows');
  const keys = data.streams.map(rowKey);
  const wanted = new Set(keys);
  const spare = [];
  for (const [key, tr] of rowsByKey) {
    if (!wanted.has(key)) { spare.push(tr); rowsByKey.delete(key); }
  }
  let prev = null;
  const flash = [];
  data.streams.forEach((s, i) => {
    const key = keys[i];
    let tr = rowsByKey.get(key);
    const isNew = !tr;
    if (isNew) {
      tr = spare.pop() || newRow();
      tr.dataset.name = s.name;
      tr.dataset.node = s.node;
      for (const td of tr.children) { delete td.dataset.v; td.classList.remove('changed'); }
      rowsByKey.set(key, tr);
    }
    tr.dataset.status = s.status;
    CELLS.forEach((c, ci) => drawCell(tr.children[ci], c, s, i, isNew, data.now, flash));
    tr.classList.toggle('selected', !!state.detail && state.detail.name === s.name && state.detail.node === s.node);
    //  Keep DOM order equal to the answer's order, moving only what moved
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
  });
  for (const tr of spare) tr.remove();
  //  Restarting a CSS animation takes a style and layout pass between the
  //  class's removal and its return: one for all the changed cells, not one
  //  per cell (each would lay the whole table out again)
  if (flash.length) {
    for (const td of flash) td.classList.remove('changed');
    void tbody.offsetWidth;
    for (const td of flash) td.classList.add('changed');
  }
  $('#empty').hidden = data.total > 0;
  $('#count').textContent = `${fmtInt(data.total)} stream${data.total === 1 ? '' : 's'}`;
  const first = data.total ? state.offset + 1 : 0;
  const last = state.offset + data.count;
  $('#range').textContent = data.total ? `${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(data.total)}` : '';
  const pages = Math.max(1, Math.ceil(data.total / state.limit));
  const page = Math.floor(state.offset / state.limit) + 1;
  $('#pg-label').textContent = `Page ${fmtInt(page)} of ${fmtInt(pages)}`;
  $('#pg-first').disabled = $('#pg-prev').disabled = state.offset === 0;
  $('#pg-next').disabled = $('#pg-last').disabled = !data.next_cursor;
  $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  for (const th of $$('#streams th[data-sort]')) {
    th.classList.toggle('sorted', th.dataset.sort === state.sort);
    th.classList.toggle('desc', th.dataset.sort === state.sort && state.desc);
  }
}

function queryChanged() {
  state.offset = 0;
  writeHash();
  $('#rows').parentElement.parentElement.scrollTop = 0;
  loadStreams();
}

function syncControls() {
  $('#q-name').value = state.name;
  $('#q-node').value = state.node;
  $('#page-size').value = String(state.limit);
  for (const c of $$('.chip')) c.setAttribute('aria-pressed', String(state.params.has(c.dataset.param)));
}

function setupStreams() {
  for (const chip of $$('.chip')) {
    chip.addEventListener('click', () => {
      const p = chip.dataset.param;
      if (state.params.has(p)) state.params.delete(p); else state.params.add(p);
      chip.setAttribute('aria-pressed', String(state.params.has(p)));
      queryChanged();
    });
  }
  let timer = null;
  $('#q-name').addEventListener('input', (ev) => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.name = ev.target.value.trim(); queryChanged(); }, 200);
  });
  $('#q-node').addEventListener('change', (ev) => { state.node = ev.target.value; queryChanged(); });
  $('#q-clear').addEventListener('click', () => {
    state.params.clear(); state.name = ''; state.node = '';
    syncControls();
    queryChanged();
  });
  $('#page-size').addEventListener('change', (ev) => { state.limit = parseInt(ev.target.value, 10); queryChanged(); });
  const go = (offset) => {
    state.offset = Math.max(0, offset);
    writeHash();
    loadStreams();
  };
  $('#pg-first').addEventListener('click', () => go(0));
  $('#pg-prev').addEventListener('click', () => go(state.offset - state.limit));
  $('#pg-next').addEventListener('click', () => go(state.offset + state.limit));
  $('#pg-last').addEventListener('click', () => go(Math.floor(Math.max(0, state.total - 1) / state.limit) * state.limit));
}

/* ---------- Stream detail ---------- */

async function openDetail(name, node) {
  if (nodeState.open) closeNodeDetail();
  state.detail = { name, node, tab: (state.detail && state.detail.tab) || 'overview', data: null, dvr: null };
  $('#detail').hidden = false;
  document.body.classList.add('detail-open');
  $('#d-title').textContent = name;
  $('#d-sub').textContent = 'Loading…';
  $('#d-body').replaceChildren();
  for (const tr of rowsByKey.values()) tr.classList.toggle('selected', tr.dataset.name === name && tr.dataset.node === node);
  await loadDetail();
}
function closeDetail() {
  state.detail = null;
  $('#detail').hidden = true;
  document.body.classList.remove('detail-open');
  for (const tr of rowsByKey.values()) tr.classList.remove('selected');
}

async function loadDetail() {
  const d = state.detail;
  if (!d) return;
  const path = `/api/v1/streams/${encodeURIComponent(d.name)}`;
  try {
    //  The detail answer holds where the stream lives now and its history
    const [data, dvr, alerts] = await Promise.all([api(path), api(path + '/dvr'),
      api(`/api/v1/alerts?stream=${encodeURIComponent(d.name)}`).catch(() => null)]);
    if (state.detail !== d) return;
    d.data = data; d.dvr = dvr; d.alerts = alerts;
    if (!data.placements.some((p) => p.node === d.node) && data.placements.length) d.node = data.placements[0].node;
    renderDetail();
  } catch (e) {
    if (state.detail !== d) return;
    $('#d-sub').textContent = e.status === 404 ? 'This stream is gone from the fleet.' : e.message;
  }
}

function currentPlacement() {
  const d = state.detail;
  return d && d.data ? d.data.placements.find((p) => p.node === d.node) : null;
}

function renderDetail() {
  const d = state.detail;
  const p = currentPlacement();
  if (!p) return;
  $('#d-title').replaceChildren(icon(p.type, `t-${p.type}`), h('span', { class: 'd-name', text: p.name }),
    h('span', { class: 'fns' }, p.functions.map((f) => icon(f, `f-${f}`))));
  $('#d-sub').replaceChildren(...[statusBadge(p.status), h('span', { text: `${p.type} on ${p.node}` }),
    p.transfer ? h('span', { class: 'tag transfer', text: 'transfer' }) : null,
    p.conflict ? h('span', { class: 'tag conflict', text: 'conflict' }) : null,
    p.migrated_to ? h('span', { class: 'tag migrated', text: `migrated to ${p.migrated_to}` }) : null,
    p.stale ? h('span', { class: 'tag stale', text: 'stale' }) : null].filter(Boolean));
  $('#d-placements').replaceChildren(...(d.data.placements.length > 1 ? d.data.placements.map((pl) =>
    h('button', { class: 'placement', role: 'tab', 'aria-selected': String(pl.node === d.node), 'data-node': pl.node,
      onclick: () => { d.node = pl.node; renderDetail(); } },
      icon(pl.type, `t-${pl.type}`), pl.node, statusBadge(pl.status))) : []));
  for (const t of $$('.tab')) t.setAttribute('aria-selected', String(t.dataset.tab === d.tab));
  const body = $('#d-body');
  const scroll = body.scrollTop;
  body.replaceChildren(...TABS[d.tab](p, d));
  body.scrollTop = scroll;
}

function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)]));
}
function bar(used, total) {
  if (!total) return null;
  const pct = Math.min(100, Math.round(used / total * 100));
  const el = h('div', { class: `bar${pct > 90 ? ' full' : pct > 75 ? ' hot' : ''}` }, h('span'));
  el.firstChild.style.width = pct + '%';
  return el;
}

/* Where the stream has been: its transfer, migration and failover events */
function historyTable(history, current) {
  const events = (history || []).slice(-20).reverse();      // newest first
  const where = current ? `Lives on ${current} now. ` : '';
  if (!events.length) return h('div', { class: 'muted', text: `${where}No transfers, migrations or failovers recorded.` });
  return h('div', {}, where ? h('div', { class: 'muted', text: where }) : null,
    h('table', { class: 'grid ranges history' },
      h('tbody', {}, events.map((ev) => h('tr', {},
        h('td', { class: 'mono', text: fmtTime(Math.floor(ev.at_ms / 1000)) }),
        h('td', {}, h('span', { class: `badge ${KIND_CLASS[ev.kind] || ''}`, text: ev.kind })),
        h('td', { text: `${ev.from || '—'} → ${ev.to || '—'}` }),
        h('td', { class: 'muted', text: ev.reason || '' }))))));
}

const TABS = {
  overview(p, d) {
    const dvr = p.dvr || {};
    const ranges = dvr.ranges || [];
    const m = p.media || {};
    const video = m.vcodec ? `${m.vcodec} ${m.width}×${m.height}${m.fps ? ` @ ${Math.round(m.fps * 100) / 100} fps` : ''}` : '—';
    return [
      kv([
        ['Node', `${p.node} (${p.node_liveness})`],
        ['Clients', fmtInt(p.clients)],
        ['Bitrate', fmtBitrate(p.bitrate_kbps)],
        ['Uptime', fmtDuration(p.uptime_s)],
        ['Started', fmtTime(p.started_at)],
        ['Reconnects', `${p.reconnects.attempts} / ${p.reconnects.total}`],
        ['Media', `${video}${m.acodec ? ` · audio ${m.acodec}` : ''}`],
      ]),
      h('div', { class: 'section-title', text: 'DVR' }),
      kv([
        ['Records path', dvr.records_path || '—'],
        ['Duration', dvr.depth_s ? fmtDuration(dvr.depth_s) : '—'],
        ['Ranges', ranges.length ? `${ranges.length} · current from ${fmtTime(dvr.current_from)}` : (dvr.current_from ? `current from ${fmtTime(dvr.current_from)}` : '—')],
        ['Available disk space', fmtBytes(dvr.disk_free_bytes)],
        ['Chunk', dvr.chunk_s ? `${dvr.chunk_s} s` : '—'],
        ['Memory usage', fmtBytes(dvr.memory_bytes)],
      ]),
      h('div', { class: 'section-title', text: 'Live links' }),
      kv([
        ['RTSP', copyRow(p.links && p.links.rtsp, 'RTSP link', { 'data-copy': 'live-rtsp' })],
        ['HLS', copyRow(p.links && p.links.hls, 'HLS link', { 'data-copy': 'live-hls' })],
        ...(p.links && p.links.rtmp
          ? [['RTMP', copyRow(p.links.rtmp, 'RTMP link', { 'data-copy': 'live-rtmp' })]] : []),
      ]),
      h('div', { class: 'section-title', text: 'Placement history' }),
      historyTable(d.data.history, d.data.current),
      h('div', { class: 'section-title', text: 'Version' }),
      kv([['Origin (gen, seq)', `${p.version.gen}, ${p.version.seq}`]]),
    ];
  },
  dvr(p, d) {
    const ranges = (d.dvr && d.dvr.ranges) || [];
    const depth = (p.dvr && p.dvr.depth_s) || 0;
    if (!ranges.length) return [h('div', { class: 'empty', text: 'No archive ranges on any node.' })];
    const nodes = new Set(ranges.map((r) => r.node));
    return [
      h('div', { class: 'muted', text: `${ranges.length} range${ranges.length === 1 ? '' : 's'} over ${nodes.size} node${nodes.size === 1 ? '' : 's'} · storage depth ${depth ? fmtDuration(depth) : '—'}` }),
      h('table', { class: 'grid ranges' },
        h('thead', {}, h('tr', {}, ['#', 'From', 'To', 'Duration', 'Node', ''].map((t) => h('th', { text: t })))),
        h('tbody', {}, ranges.map((r, i) => h('tr', { 'data-index': String(i) },
          h('td', { class: 'c-num', text: String(i + 1) }),
          h('td', { text: fmtTime(r.from) }),
          h('td', { text: fmtTime(r.to) }),
          h('td', { class: 'num', text: fmtDuration(r.duration_s) }),
          h('td', { text: r.node }),
          h('td', {}, h('div', { class: 'actions' },
            copyButton('Copy RTSP', r.rtsp, 'RTSP link', { 'data-copy': 'rtsp', 'data-index': String(i), title: r.rtsp }),
            copyButton('Copy HLS', r.hls, 'HLS link', { 'data-copy': 'hls', 'data-index': String(i), title: r.hls }))))))),
    ];
  },
  config(p) {
    return [
      h('div', { class: 'pre-head' }, h('span', { class: 'muted', text: p.config_path || 'Configuration on this server' }),
        copyButton('Copy config', p.config, 'config', { 'data-copy': 'config' })),
      h('pre', { class: 'text', text: p.config || '(no configuration reported)' }),
    ];
  },
  source(p) {
    return [
      kv([
        ['URL', copyRow(p.source.url, 'source URL', { 'data-copy': 'source-url' })],
        ['Ping', p.source.ping_ms === null ? '—' : `${p.source.ping_ms} ms`],
      ]),
      h('div', { class: 'pre-head' }, h('div', { class: 'section-title', text: 'Session description (SDP)' }),
        copyButton('Copy SDP', p.source.sdp, 'SDP', { 'data-copy': 'sdp' })),
      h('pre', { class: 'text', text: p.source.sdp || '(no SDP reported)' }),
    ];
  },
  alerts(p, d) {
    //  This stream's alerts: what fires now and its recent transitions
    const a = d.alerts || { firing: [], recent: [] };
    const firing = a.firing.filter((f) => f.stream === p.name);
    const recent = a.recent;
    return [
      h('div', { class: 'section-title', text: 'Firing now' }),
      firing.length ? h('table', { class: 'grid ranges', id: 'd-alerts-firing' },
        h('tbody', {}, firing.map((f) => h('tr', { 'data-key': f.key },
          h('td', {}, h('span', { class: `badge ${f.state === 'resolving' ? 's-suspend' : 's-error'}`, text: f.state })),
          h('td', { text: f.rule }), h('td', { text: f.node }),
          h('td', { class: 'mono', text: fmtTime(Math.floor(f.since_ms / 1000)) }),
          h('td', { class: 'muted', text: f.reason })))))
        : h('div', { class: 'muted', text: 'Nothing firing for this stream.' }),
      h('div', { class: 'section-title', text: 'Alert history' }),
      recent.length ? h('table', { class: 'grid ranges history', id: 'd-alerts-history' },
        h('tbody', {}, recent.map((ev) => h('tr', { 'data-key': ev.key, 'data-state': ev.state },
          h('td', { class: 'mono', text: fmtTime(Math.floor(ev.at_ms / 1000)) }),
          h('td', {}, h('span', { class: `badge ${ev.state === 'resolved' ? 'l-alive' : 's-error'}`, text: ev.state })),
          h('td', { text: ev.rule }), h('td', { text: ev.node }),
          h('td', { class: 'muted', text: ev.reason })))))
        : h('div', { class: 'muted', text: 'No alert transitions recorded for this stream (the cluster keeps its newest 4,096 alerts).' }),
    ];
  },
  uuid(p) {
    return [kv([
      ['Playback UUID', copyRow(p.playback_uuid, 'playback UUID', { 'data-copy': 'uuid' })],
      ['Stream uid', p.uid],
    ])];
  },
};

function setupDetail() {
  $('#d-close').addEventListener('click', closeDetail);
  for (const t of $$('.tab')) {
    t.addEventListener('click', () => {
      if (!state.detail) return;
      state.detail.tab = t.dataset.tab;
      $('#d-body').scrollTop = 0;
      renderDetail();
    });
  }
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && state.detail) closeDetail();
    if (ev.key === '/' && document.activeElement.tagName !== 'INPUT' && state.view === 'streams') {
      ev.preventDefault();
      $('#q-name').focus();
    }
  });
}

/* ---------- Nodes ---------- */

/* The node table's columns come from the controller too (GET /api/v1/columns'
   "nodes": the field table's SF_NODE_COLS, include/sf_fields.h), the lines
   `streamfleet nodes` prints, so a new node column shows here without a change
   to this page. Each format has one renderer here and one formatter in the
   CLI (controller/cli/cmd_nodes.c, s_fmts), and both write the same text; a
   renderer may draw around it (the liveness badge, the memory bar) but not
   change it. What the table leaves out (addresses, group, version, uptime,
   outgoing bandwidth, link templates) is in the node's detail: click a row. */

//  printf's %.Nf: the nearest decimal, an exact tie to even (the C library's
//  rule; toFixed takes the larger one), so 1250 ms reads "1.2s" as in the CLI
function cFixed(x, digits) {
  const near = x.toFixed(digits);
  const exact = x.toFixed(digits + 25);      // the double's digits, far enough to see a tie
  const cut = exact.length - 25;
  if (!/^50*$/.test(exact.slice(cut))) return near;
  const low = exact.slice(0, digits ? cut : cut - 1);
  return Number(low.slice(-1)) % 2 === 0 ? low : near;
}
//  The CLI's byte counts (sf_fmt_bytes): "0 B", "774.1 MiB"
function cBytes(b) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0, v = b;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return i ? `${cFixed(v, 1)} ${u[i]}` : `${b} B`;
}
//  A value as the CLI reads it: absent, null or of another type is the default
function atNum(n, path) { const v = path ? at(n, path) : null; return typeof v === 'number' ? v : 0; }
function atStr(n, path) { const v = at(n, path); return typeof v === 'string' ? v : ''; }
function cLimit(n, c) {
  const v = atNum(n, c.path), max = atNum(n, c.with);
  return max ? `${v}/${max}${v > max ? '!' : ''}` : `${v}/-`;
}
const STALE_TEXT = '[stale: source down, last good state kept]';

//  One renderer per node format (docs/http-api.md, GET /api/v1/columns):
//  text(node) is the CLI's cell; num: a figure, right-aligned as the CLI does
const NODE_FORMATS = {
  word: (c) => ({ text: (n) => atStr(n, c.path) }),
  liveness: (c) => ({ text: (n) => atStr(n, c.path),
    draw: (td, n, text) => td.replaceChildren(text ? h('span', { class: `badge l-${text}`, text }) : '') }),
  hbage: (c) => ({ num: true, text: (n) => {
    const age = at(n, c.path);
    return typeof age !== 'number' || age < 0 ? 'never' : `${cFixed(age / 1000, 1)}s`;
  } }),
  int: (c) => ({ num: true, text: (n) => String(atNum(n, c.path)) }),
  pct: (c) => ({ num: true, text: (n) => `${cFixed(atNum(n, c.path), 1)}%` }),
  limit: (c) => ({ num: true, text: (n) => cLimit(n, c) }),
  bandwidth: (c) => ({ num: true, text: (n) => {
    const bw = atStr(n, 'usage.bandwidth_source');
    return `${cLimit(n, c)} ${(bw.startsWith('interface ') ? bw.slice(10) : bw).slice(0, 12)}`;
  } }),
  memory: (c) => ({ num: true, text: (n) => `${cBytes(atNum(n, c.path))}/${cBytes(atNum(n, c.with))}`,
    draw: (td, n, text) => td.replaceChildren(text, bar(atNum(n, c.path), atNum(n, c.with)) || '') }),
  disks: (c) => ({ text: (n) => {
    const d = at(n, c.path);
    return (Array.isArray(d) ? d : []).map((dk) => {
      const tot = atNum(dk, 'total_bytes'), fr = atNum(dk, 'free_bytes');
      //  The CLI's integer percentage, exact past 2^53 / 100 bytes too
      const pct = tot ? Number(BigInt(Math.max(0, tot - fr)) * 100n / BigInt(tot)) : 0;
      return `${atStr(dk, 'mount')} ${pct}%${pct >= 80 ? '!' : ''}`;
    }).join(', ');
  } }),
  stale: (c) => ({ text: (n) => (at(n, c.path) === true ? STALE_TEXT : ''),
    draw: (td, n, text) => td.replaceChildren(text ? h('span', { class: 'tag stale', title: "The node's agent cannot read its media server", text }) : '') }),
};
let NODE_CELLS = [];
let nodeHeadOf = null;      // the columns the header was drawn from
function buildNodeColumns(cols) {
  if (nodeHeadOf === cols) return;
  nodeHeadOf = cols;
  NODE_CELLS = cols.map((c) => {
    const cell = (NODE_FORMATS[c.format] || NODE_FORMATS.word)(c);
    return { ...cell, cls: `n-${c.path.replace(/\./g, '-')}${cell.num ? ' num' : ''}` };
  });
  $('#nodes thead tr').replaceChildren(...cols.map((c, i) =>
    h('th', { class: NODE_CELLS[i].cls, 'data-path': c.path, text: c.label })));
}

const nodeState = { nodes: new Map(), open: null };  // the last answer's nodes; the node whose detail is open
async function loadNodes(after) {
  try {
    const data = await api('/api/v1/nodes');
    await after;
    fillNodeSelect(data.nodes);
    nodeState.nodes = new Map(data.nodes.map((n) => [n.id, n]));
    if (state.view !== 'nodes') return;
    await loadColumns();
    buildNodeColumns(NODE_COLS);
    $('#nodes-count').textContent = `${data.count} node${data.count === 1 ? '' : 's'} · ${data.liveness.alive} alive · ${data.liveness.suspect} suspect · ${data.liveness.down} down`;
    $('#node-rows').replaceChildren(...data.nodes.map((n) => {
      const tr = h('tr', { 'data-node': n.id, tabindex: '0', title: 'Show this node\'s detail',
        class: nodeState.open === n.id ? 'selected' : null,
        onclick: () => openNodeDetail(n.id),
        onkeydown: (ev) => { if (ev.key === 'Enter') openNodeDetail(n.id); } });
      for (const cell of NODE_CELLS) {
        const text = cell.text(n);
        const td = h('td', { class: cell.cls });
        if (cell.draw) cell.draw(td, n, text); else td.textContent = text;
        tr.append(td);
      }
      return tr;
    }));
    if (nodeState.open) renderNodeDetail();
  } catch (e) {
    if (state.view === 'nodes') $('#nodes-count').textContent = e.message;
  }
}

/* The node's detail: what the node entity holds beyond the table's columns */
function openNodeDetail(id) {
  if (state.detail) closeDetail();
  nodeState.open = id;
  $('#node-detail').hidden = false;
  document.body.classList.add('detail-open');
  for (const tr of $$('#node-rows tr')) tr.classList.toggle('selected', tr.dataset.node === id);
  renderNodeDetail();
}
function closeNodeDetail() {
  nodeState.open = null;
  $('#node-detail').hidden = true;
  document.body.classList.remove('detail-open');
  for (const tr of $$('#node-rows tr')) tr.classList.remove('selected');
}
function renderNodeDetail() {
  const id = nodeState.open;
  const n = nodeState.nodes.get(id);
  $('#nd-title').textContent = id;
  if (!n) {
    $('#nd-sub').textContent = 'This node is gone from the fleet.';
    $('#nd-body').replaceChildren();
    return;
  }
  const u = n.usage || {}, c = n.counts || {}, t = n.templates || {};
  $('#nd-sub').replaceChildren(h('span', { class: `badge l-${n.liveness}`, text: n.liveness }),
    n.stale ? h('span', { class: 'tag stale', text: 'stale' }) : '',
    h('span', { text: n.heartbeat_age_ms === null ? 'never heard from' : `heartbeat ${cFixed(n.heartbeat_age_ms / 1000, 1)} s ago` }));
  const dash = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));
  const body = $('#nd-body');
  const scroll = body.scrollTop;
  body.replaceChildren(
    h('div', { class: 'pre-head' }, h('span', { class: 'muted', text: `${fmtInt(c.streams)} streams on this node` }),
      h('button', { class: 'btn small', id: 'nd-streams', onclick: () => {
        closeNodeDetail();
        state.view = 'streams'; state.node = id; state.offset = 0; syncControls(); show();
      } }, 'List its streams')),
    kv([
      ['External address', copyRow(n.addr_external, 'external address', { 'data-copy': 'addr-external' })],
      ['Internal address', copyRow(n.addr_internal, 'internal address', { 'data-copy': 'addr-internal' })],
      ['Group', dash(n.group)],
      ['Software version', dash(n.software_version)],
      ['Started', fmtTime(n.started_at)],
      ['Uptime', fmtDuration(n.uptime_s)],
      ['Streams', `${fmtInt(c.streams)} · ${fmtInt(c.primary)} primary · ${fmtInt(c.active)} active`],
      ['CPU', `${cFixed(u.cpu_pct || 0, 1)}%`],
      ['Memory', h('div', {}, u.mem_total_bytes ? `${fmtBytes(u.mem_used_bytes)} of ${fmtBytes(u.mem_total_bytes)}` : '—',
        bar(u.mem_used_bytes, u.mem_total_bytes))],
      ['Bandwidth', `in ${fmtBitrate(u.in_kbps)} · out ${fmtBitrate(u.out_kbps)} (from ${u.bandwidth_source || '—'})`],
      ['Limits', `primary streams ${n.limits && n.limits.max_primary_streams ? fmtInt(n.limits.max_primary_streams) : 'unlimited'} · ` +
        `in ${n.limits && n.limits.max_in_kbps ? fmtBitrate(n.limits.max_in_kbps) : 'unlimited'}`],
      ['Heartbeat counter', dash(n.heartbeat)],
    ]),
    h('div', { class: 'section-title', text: 'Disks' }),
    (u.disks || []).length ? kv(u.disks.map((dk) => [dk.mount,
      h('div', {}, `${fmtBytes(dk.free_bytes)} free of ${fmtBytes(dk.total_bytes)}`,
        bar(dk.total_bytes - dk.free_bytes, dk.total_bytes))]))
      : h('div', { class: 'muted', text: 'No disks reported.' }),
    h('div', { class: 'section-title', text: 'Link templates' }),
    kv(['rtsp', 'hls', 'rtmp', 'rtsp_dvr', 'hls_dvr'].map((k) => [k.replace('_', ' ').toUpperCase(),
      h('code', { class: 'mono', text: dash(t[k]) })])),
    h('div', { class: 'section-title', text: 'Version' }),
    kv([['Origin (gen, seq)', n.version ? `${n.version.gen}, ${n.version.seq}` : '—']]));
  body.scrollTop = scroll;
}
function setupNodeDetail() {
  $('#nd-close').addEventListener('click', closeNodeDetail);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && nodeState.open) closeNodeDetail(); });
}
function fillNodeSelect(nodes) {
  const sel = $('#q-node');
  const ids = nodes.map((n) => n.id).sort();
  if (state.node && !ids.includes(state.node)) ids.push(state.node);
  const have = $$('option', sel).slice(1).map((o) => o.value);
  if (have.join('\n') === ids.join('\n')) return;
  sel.replaceChildren(h('option', { value: '', text: 'All nodes' }), ...ids.map((id) => h('option', { value: id, text: id })));
  sel.value = state.node;
}

/* ---------- Migrations ---------- */

const KIND_CLASS = { transfer_started: 's-starting', migrated: 'l-alive', failover: 's-error',
                     transfer_stuck: 's-error', returned: 's-suspend' };
async function loadMigrations() {
  try {
    const data = await api('/api/v1/migrations?limit=500');
    if (state.view !== 'migrations') return;
    const c = data.counts || {};
    $('#mig-count').textContent = `${data.count} event${data.count === 1 ? '' : 's'}, newest first` +
      (data.total ? ` · ${c.migrated || 0} migrated · ${c.failover || 0} failover · ${c.transfer_stuck || 0} stuck · ${c.transfer_started || 0} transfers · ${c.returned || 0} returned` : '');
    $('#mig-empty').hidden = data.count > 0;
    $('#mig-rows').replaceChildren(...data.events.map((ev) => h('tr', {
        onclick: () => ev.stream && openDetail(ev.stream, ev.to || ev.from) },
      h('td', { class: 'mono', text: fmtTime(Math.floor((ev.at_ms || 0) / 1000)) }),
      h('td', {}, h('span', { class: `badge ${KIND_CLASS[ev.kind] || ''}`, text: ev.kind || '?' })),
      h('td', { class: 'c-name', text: ev.stream || '—' }),
      h('td', { text: ev.from || '—' }),
      h('td', { class: 'muted', text: '→' }),
      h('td', { text: ev.to || '—' }),
      h('td', { class: 'muted', text: ev.reason || (ev.duration_ms ? `took ${fmtDuration(ev.duration_ms / 1000)}` : '') }))));
  } catch (e) {
    if (state.view === 'migrations') $('#mig-count').textContent = e.message;
  }
}

/* ---------- Alerts ---------- */

//  The badge on every view; the Alerts view when it is open
async function loadAlerts(after) {
  try {
    const a = await api('/api/v1/alerts');
    await after;
    const badge = $('#alerts-badge');
    badge.textContent = fmtInt(a.firing.length);
    badge.classList.toggle('zero', !a.firing.length);
    badge.title = `${a.firing.length} alert${a.firing.length === 1 ? '' : 's'} firing now`;
    if (state.view !== 'alerts') return;
    $('#alerts-count').textContent = `${a.firing.length} firing · ${a.rules.length} rule${a.rules.length === 1 ? '' : 's'}` +
      (a.rules.length ? '' : ' (the controller has no alert lines: docs/operations.md, Alerts)');
    $('#alerts-empty').hidden = a.firing.length > 0;
    const where = (x) => x.stream ? x.stream : `node (${fmtInt(x.streams)} stream${x.streams === 1 ? '' : 's'})`;
    $('#alert-rows').replaceChildren(...a.firing.map((f) => h('tr', { 'data-key': f.key,
        onclick: () => f.stream && openDetail(f.stream, f.node) },
      h('td', {}, h('span', { class: `badge ${f.state === 'resolving' ? 's-suspend' : 's-error'}`, text: f.state })),
      h('td', { text: f.rule }),
      h('td', { class: 'c-name', text: where(f) }),
      h('td', { text: f.node }),
      h('td', { class: 'mono', text: fmtTime(Math.floor(f.since_ms / 1000)) }),
      h('td', { class: 'muted', text: f.reason }))));
    $('#alert-history-rows').replaceChildren(...a.recent.slice(0, 200).map((ev) => h('tr', { 'data-key': ev.key },
      h('td', { class: 'mono', text: fmtTime(Math.floor(ev.at_ms / 1000)) }),
      h('td', {}, h('span', { class: `badge ${ev.state === 'resolved' ? 'l-alive' : 's-error'}`, text: ev.state })),
      h('td', { text: ev.rule }),
      h('td', { class: 'c-name', text: where(ev) }),
      h('td', { text: ev.node }),
      h('td', { class: 'muted', text: ev.reason }))));
    const sel = (r) => [r.filter && `filter=${r.filter}`, r.name_match && `name=${r.name_match}`, r.node && `node=${r.node}`]
      .filter(Boolean).join(' ') || 'every stream or node';
    $('#alert-rule-rows').replaceChildren(...a.rules.map((r) => h('tr', {},
      h('td', { class: 'c-name', text: r.name }), h('td', { text: r.condition }), h('td', { class: 'mono', text: sel(r) }),
      h('td', { class: 'num', text: fmtDuration(r.for_ms / 1000) }), h('td', { class: 'num', text: fmtDuration(r.resolve_ms / 1000) }),
      h('td', { class: 'num', text: fmtInt(r.firing) }))));
  } catch (e) {
    if (state.view === 'alerts') $('#alerts-count').textContent = e.message;
  }
}

/* ---------- Cluster summary, views, live refresh ---------- */

async function loadSummary(after) {
  try {
    const c = await api('/api/v1/cluster');
    await after;
    const set = (id, n, label) => {
      const el = $(id);
      el.textContent = `${fmtInt(n)} ${label}`;
      el.classList.toggle('zero', !n);
    };
    const members = c.members || [];
    const up = members.filter((m) => m.state === 'alive').length;
    const ctl = $('#sum-controllers');
    ctl.textContent = `${up}/${members.length} controller${members.length === 1 ? '' : 's'}`;
    ctl.title = members.map((m) => `${m.id || m.endpoint || 'this controller'}: ${m.state}` +
      (m.self ? ' (this one)' : `, lag ${m.lag_changes} changes`)).join('\n');
    ctl.classList.toggle('warn', up < members.length);
    set('#sum-streams', c.streams, c.streams === 1 ? 'stream' : 'streams');
    set('#sum-alive', c.nodes.alive, 'alive');
    set('#sum-suspect', c.nodes.suspect, 'suspect');
    set('#sum-down', c.nodes.down, 'down');
  } catch (e) { /* the views say what failed */ }
}

function show() {
  if (state.view !== 'nodes' && nodeState.open) closeNodeDetail();
  for (const v of $$('.view')) v.hidden = v.dataset.view !== state.view;
  for (const a of $$('.view-link')) a.classList.toggle('current', a.dataset.view === state.view);
  writeHash();
  return refresh();
}

/* One refresh at a time. A view switch during one runs right after it; a
   timer tick during one is dropped, so a slow controller (a huge fleet) is
   polled no faster than it answers. The node list (for the selector) is
   re-read every 15 s unless the Nodes view is open. */
let refreshing = false, again = false, nodesAt = 0;
async function refresh(tick) {
  if (refreshing) { if (!tick) again = true; return; }
  refreshing = true;
  try {
    do {
      again = false;
      //  Everything is asked at once, but on the Streams view the rows are
      //  drawn first: the other answers (the node list of a large fleet is
      //  the biggest) are applied after them, not between the rows' answer
      //  and their drawing
      const rows = state.view === 'streams' ? loadStreams() : null;
      const work = [loadSummary(rows), loadAlerts(rows)];
      if (state.view === 'nodes' || Date.now() - nodesAt > 15000) { nodesAt = Date.now(); work.push(loadNodes(rows)); }
      if (rows) work.push(rows);
      if (state.view === 'migrations') work.push(loadMigrations());
      if (state.detail) work.push(loadDetail());
      await Promise.all(work);
    } while (again);
  } finally {
    refreshing = false;
  }
}

function setupLive(started) {
  const btn = $('#live');
  btn.addEventListener('click', () => {
    state.live = !state.live;
    btn.setAttribute('aria-pressed', String(state.live));
    $('#live-label').textContent = state.live ? 'Live' : 'Paused';
  });
  //  Wait on the change feed (the controller holds the ask until something
  //  is committed, or 20 s); refresh on a change, at most every REFRESH_MS,
  //  or three times what the last refresh took when the controller is slow
  //  (a huge fleet), so a page left open never keeps a controller busy
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const loop = async () => {
    //  Not before the first answers: its first ask only fetches a cursor, and
    //  it need not compete with the first rows for a connection
    await started;
    let cursor = '', lastAt = Date.now(), took = 0;
    for (;;) {
      if (!state.live || document.hidden) { await sleep(REFRESH_MS); continue; }
      let changed = false;
      const asked = Date.now();
      try {
        const c = await api(`/api/v1/changes?max=0&wait_ms=20000&after=${encodeURIComponent(cursor)}`);
        changed = cursor !== '' && c.changed;
        cursor = c.cursor;
      } catch (e) {
        await sleep(REFRESH_MS);
      }
      //  Not held (the controller holds only a few asks at once): ask again later
      if (!changed && Date.now() - asked < REFRESH_MS) await sleep(REFRESH_MS);
      if (changed || Date.now() - lastAt >= SLOW_MS) {
        const t0 = Date.now();
        await refresh(true);
        took = Date.now() - t0;
        lastAt = Date.now();
        await sleep(Math.max(REFRESH_MS, 3 * took));
      }
    }
  };
  loop();
}

function setupToken() {
  //  ?token=... once in the address bar is kept for this tab, then hidden
  const q = new URLSearchParams(location.search);
  if (q.get('token')) {
    token = q.get('token');
    sessionStorage.setItem('streamfleet-token', token);
    history.replaceState(null, '', location.pathname + location.hash);
  }
  $('#token-form').addEventListener('submit', () => {
    token = $('#token-input').value.trim();
    sessionStorage.setItem('streamfleet-token', token);
    refresh();
  });
}

//  The view links keep the streams query (filter, sort, page) when switching
//  views; an edited address or Back re-reads everything from the hash
for (const a of $$('.view-link')) {
  a.addEventListener('click', (ev) => {
    ev.preventDefault();
    state.view = a.dataset.view;
    show();
  });
}
window.addEventListener('hashchange', () => { readHash(); syncControls(); show(); openLinkedDetail(); });
setupToken();
readHash();
syncControls();
setupStreams();
setupDetail();
setupNodeDetail();
loadColumns().catch(() => { /* asked again with the rows */ });
setupLive(show());
openLinkedDetail();
