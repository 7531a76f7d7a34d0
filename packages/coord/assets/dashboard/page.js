'use strict';
// The status page's script, inlined into the page by the server (the CSP allows it by its hash).
// It polls this member's /v1/status and /v1/history and redraws the page from them. Every value
// goes into the page as text (textContent), never as markup: the records come from the store,
// and a hub name is not to be trusted as HTML. When a fetch fails the last data stays on the
// page, dimmed, with how long the member has been unreachable.
(function () {
  const POLL_MS = 1000;
  // Longer than the member's linearizable read falls back after (1 s), shorter than a person waits.
  const FETCH_TIMEOUT_MS = 4000;
  const FAILING_CODES = ['no-quorum', 'no-active-hub'];
  const KIND_LABELS = { bootstrap: 'Bootstrap', failover: 'Failover', 'manual-failover': 'Manual failover', switchover: 'Switchover' };

  let lastOkAt = null;
  let failingSince = null;

  function byTestId(id) {
    return document.querySelector('[data-testid="' + id + '"]');
  }

  /** An element with attributes (class, data-*) and children (strings become text nodes). */
  function el(tag, attrs) {
    const node = document.createElement(tag);
    for (const name of Object.keys(attrs || {})) {
      if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, String(attrs[name]));
    }
    for (let i = 2; i < arguments.length; i++) {
      const child = arguments[i];
      if (child === null || child === undefined) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function setText(id, text) {
    byTestId(id).textContent = text;
  }

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  /** Local time, with the date when it is not today. */
  function formatTime(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const time = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return time;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + time;
  }

  function formatDuration(ms) {
    if (!(ms >= 0)) return '–';
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }

  function formatBytes(n) {
    if (n === null || n === undefined) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = n;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return (unit === 0 ? String(value) : value.toFixed(1)) + ' ' + units[unit];
  }

  /** How long before the status was computed (the member's clock, not the browser's). */
  function ageAt(status, iso) {
    return Date.parse(status.at) - Date.parse(iso);
  }

  async function getJson(path) {
    const response = await fetch(new URL(path, window.location.href), { cache: 'no-store', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    let body = null;
    try {
      body = await response.json();
    } catch (_err) {
      body = null;
    }
    if (!response.ok) throw new Error('HTTP ' + response.status + (body && body.message ? ': ' + body.message : ''));
    if (body === null || typeof body !== 'object') throw new Error('not a JSON object');
    return body;
  }

  // ------------------------------------------------------------------ the parts of the page

  function renderConnection(error) {
    const node = byTestId('connection');
    if (error === null) {
      node.dataset.connection = 'live';
      node.textContent = 'live';
      byTestId('main').classList.remove('stale');
      return;
    }
    node.dataset.connection = 'unreachable';
    const since = 'unreachable since ' + formatTime(new Date(failingSince).toISOString());
    node.textContent = since + (lastOkAt === null ? '' : ' · showing data from ' + formatTime(new Date(lastOkAt).toISOString())) + ' · ' + error;
    byTestId('main').classList.add('stale');
  }

  function renderState(status) {
    const state = byTestId('ha-state');
    state.dataset.state = status.state;
    state.textContent = status.state;
    setText('served-by', status.servedBy);
    const raft = status.raft;
    const parts = [
      'Raft leader ' + (raft.leader === null ? 'none' : raft.leader),
      'term ' + raft.term,
      raft.reachableVoters + '/' + raft.voters + ' voters reachable',
      raft.quorum ? 'quorum' : 'NO QUORUM',
    ];
    if (!status.linearizable) parts.push('read without quorum confirmation' + (status.readError ? ' (' + status.readError + ')' : ''));
    setText('raft-summary', parts.join(' · '));
    const paused = byTestId('paused');
    if (status.paused !== null && status.paused.paused) {
      paused.hidden = false;
      paused.textContent = 'Paused by ' + status.paused.by + ' since ' + formatTime(status.paused.at) + (status.paused.reason ? ': ' + status.paused.reason : '') + ' — no automatic failover';
    } else {
      paused.hidden = true;
      paused.textContent = '';
    }
  }

  function renderActiveHub(status) {
    const card = byTestId('active-hub');
    const active = status.activeHub;
    card.dataset.present = String(active !== null);
    setText('active-hub-name', active === null ? 'none' : active.name);
    setText('active-hub-address', active === null ? '–' : active.address);
    setText('active-hub-vip', active === null || active.vip === null ? '–' : active.vip);
    setText('active-hub-epoch', active === null ? '–' : String(active.epoch));
    setText('active-hub-since', active === null ? '–' : formatTime(active.since) + ' (' + formatDuration(ageAt(status, active.since)) + ' ago)');
    const lease = status.lease;
    let leaseText = 'free';
    if (lease !== null) {
      leaseText = 'held by ' + lease.holder + ' at epoch ' + lease.epoch + ', TTL ' + lease.ttlMs + ' ms';
      if (lease.remainingMs !== null) leaseText += ', ' + lease.remainingMs + ' ms left';
    }
    setText('active-hub-lease', leaseText);
  }

  function renderReasons(status) {
    const list = byTestId('reasons');
    const items = status.reasons.map(function (r) {
      return el(
        'li',
        { class: FAILING_CODES.indexOf(r.code) >= 0 ? 'failing' : null, 'data-code': r.code, 'data-member': r.member === null ? '' : r.member },
        el('span', { class: 'code' }, r.code),
        el('span', { class: 'message' }, r.message),
        el('span', { class: 'since' }, 'since ' + formatTime(r.since) + ' (' + formatDuration(ageAt(status, r.since)) + ')'),
      );
    });
    if (items.length === 0) items.push(el('li', { class: 'none', 'data-empty': 'true' }, 'No reason: the cluster is healthy.'));
    list.replaceChildren.apply(list, items);
  }

  /** green: all is well with it; amber: a reason names it; red: unreachable or its PostgreSQL down. */
  function health(status, m) {
    if (!m.reachable) return 'red';
    if (m.kind === 'hub' && (m.postgres === null || !m.postgres.up)) return 'red';
    if ((m.report !== null && m.report.stale) || status.reasons.some(function (r) { return r.member === m.name; })) return 'amber';
    return 'green';
  }

  function postgresCell(m) {
    const pg = m.postgres;
    if (pg === null) return el('td', { 'data-field': 'postgres' }, m.kind === 'hub' ? 'no report' : '–');
    let detail = pg.up ? 'up' : 'down';
    if (pg.role === 'standby') detail = (pg.streaming ? 'streaming' : 'not streaming') + (pg.syncState ? ', ' + pg.syncState : '');
    if (pg.timeline !== null) detail += ', timeline ' + pg.timeline;
    // What a hub that stopped reporting last said of itself: shown, but as old news.
    const stale = m.report !== null && m.report.stale;
    if (stale) detail += ' (its last report)';
    return el('td', { 'data-field': 'postgres', 'data-role': pg.role, class: stale ? 'stale-cell' : null }, el('span', { class: pg.up ? null : 'bad' }, pg.role), el('span', { class: 'sub' }, detail));
  }

  function lagCell(m) {
    const pg = m.postgres;
    if (pg === null || pg.role !== 'standby') return el('td', { 'data-field': 'lag' }, '–');
    const seconds = pg.lagSeconds === null ? '–' : pg.lagSeconds.toFixed(1) + ' s';
    return el('td', { 'data-field': 'lag', 'data-lag-bytes': pg.lagBytes === null ? '' : pg.lagBytes }, formatBytes(pg.lagBytes), el('span', { class: 'sub' }, seconds));
  }

  function reportCell(m) {
    if (m.report === null) return el('td', { 'data-field': 'report' }, m.kind === 'hub' ? 'never' : '–');
    return el('td', { 'data-field': 'report', 'data-age-ms': m.report.ageMs }, el('span', { class: m.report.stale ? 'bad' : null }, formatDuration(m.report.ageMs) + ' ago'), el('span', { class: 'sub' }, formatTime(m.report.at)));
  }

  function eligibilityCell(m) {
    if (m.eligibility === null) return el('td', { 'data-field': 'eligibility' }, '–');
    if (m.eligibility.eligible) return el('td', { 'data-field': 'eligibility', 'data-eligible': 'true' }, 'yes');
    const why = m.eligibility.reasons.map(function (r) { return r.code; }).join(', ');
    return el('td', { 'data-field': 'eligibility', 'data-eligible': 'false' }, el('span', { class: 'bad' }, 'no'), el('span', { class: 'sub' }, why));
  }

  function renderNodes(status) {
    const rows = status.members.map(function (m) {
      const raftState = m.raft.role === null ? 'not a member' : m.raft.role + ', ' + m.raft.state;
      const applied = m.raft.appliedIndex === null ? '' : 'applied ' + m.raft.appliedIndex;
      const reachable = m.reachable ? 'yes' : 'no' + (m.unreachableSince ? ' since ' + formatTime(m.unreachableSince) : '');
      return el(
        'tr',
        { 'data-member': m.name, 'data-health': health(status, m), 'data-active': String(m.active) },
        el('td', {}, el('span', { class: 'dot', title: health(status, m) })),
        el('td', { 'data-field': 'name' }, m.name, m.active ? el('span', { class: 'tag' }, 'active') : null, status.raft.leader === m.name ? el('span', { class: 'tag leader' }, 'Raft leader') : null),
        el('td', { 'data-field': 'kind' }, m.kind),
        el('td', { 'data-field': 'raft' }, raftState, el('span', { class: 'sub' }, applied)),
        el('td', { 'data-field': 'reachable' }, el('span', { class: m.reachable ? null : 'bad' }, reachable), m.lastError ? el('span', { class: 'sub' }, m.lastError) : null),
        postgresCell(m),
        lagCell(m),
        reportCell(m),
        eligibilityCell(m),
      );
    });
    const body = byTestId('nodes');
    body.replaceChildren.apply(body, rows);
  }

  function renderHistory(history) {
    const list = byTestId('history');
    const entries = history.entries.slice().sort(function (a, b) { return b.epoch - a.epoch; });
    const items = entries.map(function (e) {
      const move = (e.from === null ? '' : e.from + ' → ') + e.to;
      const loss = e.dataLossBytes === null ? 'data loss bound unknown' : e.dataLossBytes === 0 ? 'no data lost' : 'up to ' + formatBytes(e.dataLossBytes) + ' lost';
      return el(
        'li',
        { 'data-epoch': e.epoch, 'data-kind': e.kind, 'data-to': e.to },
        el('div', { class: 'when' }, formatTime(e.at) + ' · epoch ' + e.epoch),
        el('div', { class: 'what' }, (KIND_LABELS[e.kind] || e.kind) + ': ' + move),
        el('div', { class: 'why' }, (e.reason ? e.reason + ' · ' : '') + loss),
      );
    });
    if (items.length === 0) items.push(el('li', { class: 'none', 'data-empty': 'true' }, 'No history yet.'));
    list.replaceChildren.apply(list, items);
  }

  // ------------------------------------------------------------------ the loop

  async function poll() {
    const results = await Promise.allSettled([getJson('v1/status'), getJson('v1/history')]);
    const status = results[0];
    const history = results[1];
    if (status.status === 'fulfilled') {
      renderState(status.value);
      renderActiveHub(status.value);
      renderReasons(status.value);
      renderNodes(status.value);
    }
    if (history.status === 'fulfilled') renderHistory(history.value);
    const failed = results.find(function (r) { return r.status === 'rejected'; });
    if (failed === undefined) {
      lastOkAt = Date.now();
      failingSince = null;
      setText('updated-at', formatTime(new Date(lastOkAt).toISOString()));
      renderConnection(null);
    } else {
      if (failingSince === null) failingSince = Date.now();
      const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
      renderConnection(reason);
    }
  }

  async function loop() {
    const started = Date.now();
    try {
      await poll();
    } catch (err) {
      // A bug in drawing must not stop the refreshes; the console tells whoever looks.
      console.error('hubha status page:', err);
    }
    setTimeout(loop, Math.max(0, POLL_MS - (Date.now() - started)));
  }

  loop();
})();
