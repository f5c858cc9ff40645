// Switchyard live dashboard: renders /stats snapshots pushed over SSE (/events).
// Plain browser JavaScript, no build step.
'use strict';

const COLORS = ['#2453a6', '#17803d', '#a15c00', '#7a3fb0', '#b42318', '#0f7c86', '#6b7280', '#c2410c', '#4d7c0f', '#be185d'];
const $ = (id) => document.getElementById(id);
const colorOf = new Map();
let lastSnapshot = null;
let strategies = [];
/** The strategy picked in the switcher and not applied yet, or null. */
let strategyChosen = null;

function color(id) {
  if (!colorOf.has(id)) colorOf.set(id, COLORS[colorOf.size % COLORS.length]);
  return colorOf.get(id);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function fmt(n, digits = 1) {
  return Number(n).toFixed(digits);
}

function duration(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

function badge(text, kind, label) {
  return el('span', { class: `badge ${kind}`, text, 'aria-label': `${label}: ${text}` });
}

function stat(name, field, value) {
  return [el('dt', { text: name }), el('dd', { 'data-field': field, text: value })];
}

function renderCard(b) {
  const card = el('article', { class: `card ${b.health} ${b.state}`, 'data-backend': b.id, 'aria-labelledby': `card-${b.id}` });
  const title = el('h3', { id: `card-${b.id}` }, el('span', { text: b.id }));
  const badges = el(
    'div',
    { class: 'badges' },
    badge(b.health, b.health === 'healthy' ? 'good' : 'bad', 'health'),
    badge(b.state, b.state === 'active' ? 'good' : 'warn', 'state'),
    badge(`breaker ${b.breaker}`, b.breaker === 'closed' ? 'neutral' : 'bad', 'circuit breaker'),
  );
  badges.querySelectorAll('.badge')[0].setAttribute('data-field', 'health');
  badges.querySelectorAll('.badge')[1].setAttribute('data-field', 'state');
  badges.querySelectorAll('.badge')[2].setAttribute('data-field', 'breaker');
  const weight = b.effectiveWeight === b.weight ? String(b.weight) : `${fmt(b.effectiveWeight, 2)} of ${b.weight}`;
  const dl = el(
    'dl',
    {},
    ...stat('weight', 'weight', weight),
    ...stat('in flight', 'inFlight', String(b.inFlight)),
    ...stat('req/s', 'rps', fmt(b.requestsPerSecond)),
    ...stat('p50', 'p50', `${fmt(b.p50Ms, 2)} ms`),
    ...stat('p99', 'p99', `${fmt(b.p99Ms, 2)} ms`),
    ...stat('errors', 'errorRate', `${fmt(b.errorRate * 100)} %`),
    ...stat('share', 'share', `${fmt(b.share * 100)} %`),
  );
  const bar = el('div', { class: 'share-bar', role: 'presentation' }, el('span', { style: `width:${(b.share * 100).toFixed(1)}%;background:${color(b.id)}` }));
  const drainable = b.registryState === 'active';
  const action = el('button', { type: 'button', 'data-action': drainable ? 'drain' : 'activate', 'aria-label': `${drainable ? 'Drain' : 'Restore'} ${b.id}`, text: drainable ? 'Drain' : 'Restore' });
  action.addEventListener('click', () => changeState(b.id, drainable ? 'drain' : 'activate'));
  card.append(title, el('p', { class: 'url', text: b.url }), badges, dl, bar, el('div', { class: 'actions' }, action));
  return card;
}

function renderChart(backends) {
  const svg = $('chart');
  const width = 720;
  const height = 200;
  const full = Math.max(0, ...backends.map((b) => b.history.length));
  // Start the chart at the first second with traffic (at least the last 20 s).
  let first = 0;
  while (first < full - 20 && backends.every((b) => !b.history[first])) first++;
  backends = backends.map((b) => ({ ...b, history: b.history.slice(first) }));
  const n = full - first;
  svg.replaceChildren();
  const legend = $('legend');
  legend.replaceChildren(...backends.map((b) => el('span', {}, el('i', { style: `background:${color(b.id)}` }), b.id)));
  if (n < 2) return;
  const totals = Array.from({ length: n }, (_, i) => backends.reduce((t, b) => t + (b.history[i] ?? 0), 0));
  const x = (i) => (i / (n - 1)) * width;
  const lower = new Array(n).fill(0);
  const ns = 'http://www.w3.org/2000/svg';
  for (const b of backends) {
    const upper = lower.map((l, i) => l + (totals[i] ? (b.history[i] ?? 0) / totals[i] : 0));
    const top = upper.map((u, i) => `${x(i).toFixed(1)},${(height - u * height).toFixed(1)}`);
    const bottom = lower.map((l, i) => `${x(i).toFixed(1)},${(height - l * height).toFixed(1)}`).reverse();
    const poly = document.createElementNS(ns, 'polygon');
    poly.setAttribute('points', [...top, ...bottom].join(' '));
    poly.setAttribute('fill', color(b.id));
    poly.setAttribute('fill-opacity', '0.85');
    const t = document.createElementNS(ns, 'title');
    t.textContent = b.id;
    poly.append(t);
    svg.append(poly);
    for (let i = 0; i < n; i++) lower[i] = upper[i];
  }
}

/** p99 of the samples between two cumulative histograms (counts per bucket), as text; '–' with none. */
function recentP99(now, before, bounds) {
  if (!now) return '–';
  const delta = now.map((n, i) => n - ((before && before[i]) || 0));
  const total = delta.reduce((a, b) => a + b, 0);
  if (total <= 0) return '–';
  const rank = Math.ceil(total * 0.99);
  let seen = 0;
  for (let i = 0; i < delta.length; i++) {
    seen += delta[i];
    if (seen >= rank) return i < bounds.length ? `≤ ${bounds[i] * 1000 >= 1 ? fmt(bounds[i] * 1000, 0) : fmt(bounds[i] * 1000, 1)} ms` : `> ${fmt(bounds[bounds.length - 1], 0)} s`;
  }
  return '–';
}

function renderWaits(s, before) {
  const w = s.waits;
  if (!w) return;
  const prev = before && before.waits;
  $('wait-loop').textContent = recentP99(w.eventLoop, prev && prev.eventLoop, w.bucketsSeconds);
  $('wait-connection').textContent = recentP99(w.connection, prev && prev.connection, w.bucketsSeconds);
  $('wait-queue').textContent = recentP99(w.admissionQueue, prev && prev.admissionQueue, w.bucketsSeconds);
}

function render(s) {
  renderWaits(s, lastSnapshot);
  lastSnapshot = s;
  $('instance').textContent = s.instanceId;
  $('engine').textContent = `${s.engine} · listener ${s.listener}`;
  $('uptime').textContent = duration(s.uptimeSeconds);
  $('total-rps').textContent = fmt(s.requestsPerSecond);
  $('total-inflight').textContent = String(s.inFlight);
  $('total-routable').textContent = `${s.backends.filter((b) => b.routable).length} of ${s.backends.length}`;
  $('registry').textContent = `${s.registry.kind} v${s.registry.version}${s.registry.connected ? '' : ' (unreachable)'}`;
  const select = $('strategy');
  // A choice the user has made and not applied yet is theirs: live updates do not undo it.
  if (strategyChosen === null && select.value !== s.strategy) select.value = s.strategy;
  $('strategy-current').textContent = s.strategy;
  $('cards').replaceChildren(...s.backends.map(renderCard));
  $('no-backends').hidden = s.backends.length > 0;
  renderChart(s.backends);
  if (!logFilled) {
    logFilled = true;
    for (const e of s.events) addLog(e);
  }
}

let logFilled = false;
let lastSeq = 0;
function addLog(e) {
  if (e.seq <= lastSeq) return;
  lastSeq = e.seq;
  const item = el(
    'li',
    { 'data-type': e.type },
    el('time', { datetime: e.at, text: e.at.slice(11, 19) }),
    el('span', { class: 'type', text: e.type }),
    el('span', { text: [e.backendId, e.detail].filter(Boolean).join(' · ') }),
  );
  const log = $('log');
  log.prepend(item);
  while (log.children.length > 200) log.lastChild.remove();
}

function show(message) {
  const m = $('message');
  m.textContent = message;
  m.hidden = false;
  clearTimeout(show.timer);
  show.timer = setTimeout(() => (m.hidden = true), 4000);
}

/**
 * Calls the admin API. Credentials travel as the session cookie (same origin);
 * a change says Content-Type: application/json, which the API requires of any
 * change that carries no Authorization header. A 401 means the session ended.
 */
async function api(path, opts = {}) {
  const headers = opts.method && opts.method !== 'GET' ? { 'content-type': 'application/json' } : {};
  const res = await fetch(path, { ...opts, headers, credentials: 'same-origin' });
  if (res.status === 401) showLogin('Your session has ended: log in again.');
  return res;
}

async function changeState(id, action) {
  const res = await api(`backends/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
  if (!res.ok && res.status !== 401) show(`${action} ${id} failed: ${res.status} ${(await res.json().catch(() => ({}))).error?.message ?? ''}`);
}

async function loadStrategies() {
  const res = await api('strategy');
  if (res.status === 401) throw new Error('not logged in');
  const body = await res.json();
  strategies = body.available;
  $('strategy').replaceChildren(...strategies.map((name) => el('option', { value: name, text: name })));
  $('strategy').value = body.strategy;
}

$('strategy').addEventListener('change', () => {
  const name = $('strategy').value;
  strategyChosen = lastSnapshot && name === lastSnapshot.strategy ? null : name;
});

$('strategy-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('strategy').value;
  const res = await api('strategy', { method: 'PUT', body: JSON.stringify({ name }) });
  if (res.status === 401) return;
  if (!res.ok) show(`strategy change failed: ${res.status} ${(await res.json().catch(() => ({}))).error?.message ?? ''}`);
  else {
    strategyChosen = null;
    show(`strategy is now ${name}`);
  }
});

// --- rate limits and bans (GET /rate-limits, GET /bans; polled: they are not in /stats) ---
let limitsTimer = null;
/** The rules typed and not applied yet, or null: a refresh does not overwrite them. */
let rulesTyped = null;

async function loadLimits() {
  clearTimeout(limitsTimer);
  try {
    const [limits, bans] = await Promise.all([api('rate-limits'), api('bans')]);
    if (limits.status === 401 || bans.status === 401) return;
    const l = limits.ok ? await limits.json() : { enabled: false, rules: [] };
    const b = bans.ok ? await bans.json() : { enabled: false, bans: [] };
    $('limits').hidden = !l.enabled && !b.enabled;
    $('limits-form').hidden = !l.enabled;
    $('limit-rules').querySelector('tbody').replaceChildren(
      ...l.rules.map((r) =>
        el('tr', { 'data-rule': r.prefix }, el('td', { text: r.rule }), el('td', { text: String(r.clients) }), el('td', { 'data-field': 'allowed', text: String(r.allowed) }), el('td', { 'data-field': 'refused', text: String(r.refused) })),
      ),
    );
    if (rulesTyped === null) $('limits-rules').value = l.rules.map((r) => r.rule).join(', ');
    $('limits-store').textContent = !l.enabled
      ? ''
      : l.store === 'redis'
        ? `Shared by every balancer through Redis${l.storeFailures > 0 ? ` (${l.storeFailures} checks Redis did not answer)` : ''}.`
        : 'Counted by this balancer process alone.';
    $('bans').hidden = !b.enabled || b.bans.length === 0;
    $('no-bans').hidden = !b.enabled || b.bans.length > 0;
    $('bans').querySelector('tbody').replaceChildren(
      ...b.bans.map((ban) => {
        const lift = el('button', { type: 'button', 'data-action': 'lift', text: 'Lift' });
        lift.addEventListener('click', () => liftBan(ban.client));
        return el('tr', { 'data-ban': ban.client }, el('td', { text: ban.client }), el('td', { text: ban.reason }), el('td', { text: duration(ban.secondsLeft) }), el('td', {}, lift));
      }),
    );
  } catch {
    // The stream shows the admin API's state; this panel tries again.
  }
  limitsTimer = setTimeout(loadLimits, 2000);
}

async function liftBan(client) {
  const res = await api(`bans/${encodeURIComponent(client)}`, { method: 'DELETE' });
  if (!res.ok && res.status !== 401) show(`lifting the ban on ${client} failed: ${res.status}`);
  else show(`ban on ${client} lifted`);
  loadLimits();
}

$('limits-rules').addEventListener('input', () => (rulesTyped = $('limits-rules').value));

$('limits-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const rules = $('limits-rules')
    .value.split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const res = await api('rate-limits', { method: 'PUT', body: JSON.stringify({ rules }) });
  if (res.status === 401) return;
  if (!res.ok) show(`rate limits not changed: ${(await res.json().catch(() => ({}))).error?.message ?? res.status}`);
  else {
    rulesTyped = null;
    show('rate limits replaced');
  }
  loadLimits();
});

let source = null;
let restartTimer = null;

function connect() {
  source?.close();
  source = new EventSource('events');
  const mine = source;
  source.addEventListener('open', () => {
    $('live').textContent = 'live';
    $('live').classList.add('on');
  });
  source.addEventListener('stats', (e) => render(JSON.parse(e.data)));
  source.addEventListener('log', (e) => addLog(JSON.parse(e.data)));
  source.addEventListener('error', () => {
    $('live').textContent = 'reconnecting…';
    $('live').classList.remove('on');
    // The browser retries a dropped stream by itself, but not one refused with an
    // HTTP error (401: session over; 503: too many streams): start again later.
    if (mine.readyState === EventSource.CLOSED && source === mine) {
      clearTimeout(restartTimer);
      restartTimer = setTimeout(start, 3000);
    }
  });
}

function showLogin(reason) {
  source?.close();
  source = null;
  clearTimeout(limitsTimer);
  clearTimeout(restartTimer);
  $('live').textContent = 'logged out';
  $('live').classList.remove('on');
  $('main').hidden = true;
  $('strategy-form').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = reason ?? '';
  $('login-error').hidden = !reason;
  $('login-token').focus();
}

function hideLogin(tokenRequired) {
  $('login').hidden = true;
  $('main').hidden = false;
  $('strategy-form').hidden = false;
  $('logout').hidden = !tokenRequired;
}

/** Asks whether a login is needed, then loads the strategies and opens the live stream. */
async function start() {
  try {
    const session = await (await fetch('session', { credentials: 'same-origin' })).json();
    if (session.tokenRequired && !session.authenticated) return showLogin();
    hideLogin(session.tokenRequired);
    await loadStrategies();
    connect();
    loadLimits();
  } catch (err) {
    if (String(err).includes('not logged in')) return;
    show(`cannot reach the admin API: ${err}`);
    clearTimeout(restartTimer);
    restartTimer = setTimeout(start, 3000);
  }
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = $('login-token').value;
  const res = await fetch('session', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  $('login-token').value = '';
  if (!res.ok) {
    $('login-error').textContent = res.status === 401 ? 'Wrong token.' : `Login failed: ${res.status} ${(await res.json().catch(() => ({}))).error?.message ?? ''}`;
    $('login-error').hidden = false;
    return;
  }
  start();
});

$('logout').addEventListener('click', async () => {
  await fetch('session', { method: 'DELETE', credentials: 'same-origin', headers: { 'content-type': 'application/json' } });
  showLogin();
});

start();
window.switchyard = { last: () => lastSnapshot };
