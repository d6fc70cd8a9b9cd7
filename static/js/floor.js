// The lead's floor: refreshed from the /floor namespace on every state change, and every 3 s for the clocks.
// Alerts arrive live (`alert`, `alert_cleared`) and are kept by id, so a repeat delivery changes nothing.
import { el, fmtSeconds, readConfig } from './common.js';

const cfg = readConfig('floor-config');
const T = cfg.i18n;
const L = cfg.labels;
const queueLabel = (q) => L.queues[q] || L.channels[(q || '').split('.')[0]] || q;
const socket = io('/floor', { transports: ['websocket', 'polling'] });
const alerts = new Map();
let names = {};
let pending = false;

async function refresh() {
  if (pending) return;
  pending = true;
  socket.timeout(10000).emit('snapshot', {}, (err, res) => {
    pending = false;
    if (err || !res || !res.ok) return;
    render(res);
  });
}

function render(snap) {
  const now = Date.now() / 1000;
  names = Object.fromEntries(snap.agents.map((a) => [a.agent_id, a.name]));
  document.getElementById('floor-groups').textContent = snap.groups.map((g) => g.name).join(' · ');
  const ab = document.querySelector('#floor-agents tbody');
  ab.replaceChildren(...snap.agents.map((a) => {
    // The ACD's own state: an agent holding a call is on_call (offered nothing else) until its wrap-up.
    const s = a.effective_state || a.state;
    const load = Object.entries(a.load || {}).map(([ch, n]) => `${L.channels[ch] || ch} ${n}/${(a.capacity || {})[ch] ?? '-'}`).join(' ');
    return el('tr', { dataset: { agentId: a.agent_id, state: s } }, el('td', {}, a.name), el('td', {}, a.group || ''),
      el('td', {}, a.level || ''), el('td', { class: `state-${s}` }, T.codes[s] || s),
      el('td', { class: 'since' }, fmtSeconds(a.since ? now - a.since : null)), el('td', {}, load));
  }));
  const qb = document.querySelector('#floor-queues tbody');
  qb.replaceChildren(...Object.entries(snap.queues).map(([q, f]) => el('tr', { dataset: { queue: q } }, el('td', {}, queueLabel(q)),
    el('td', { class: 'waiting' }, f.waiting), el('td', {}, fmtSeconds(f.longest_wait)),
    el('td', {}, f.service_level == null ? '-' : `${Math.round(f.service_level * 100)}%`),
    el('td', {}, fmtSeconds(f.asa)), el('td', {}, f.abandon_rate == null ? '-' : `${Math.round(f.abandon_rate * 100)}%`))));
  const chb = document.querySelector('#floor-channels tbody');
  chb.replaceChildren(...Object.entries(snap.by_channel).map(([ch, n]) => el('tr', { dataset: { channel: ch } },
    el('td', {}, L.channels[ch] || ch), el('td', { class: 'active' }, n.active), el('td', {}, n.queued), el('td', {}, n.wrap_up))));
  const cb = document.querySelector('#floor-contacts tbody');
  cb.replaceChildren(...snap.contacts.map((c) => el('tr', { dataset: { contactId: c.id } },
    el('td', {}, el('a', { href: `/contacts/${c.id}`, title: T.open }, `#${c.id}`)), el('td', {}, L.channels[c.channel] || c.channel), el('td', {}, queueLabel(c.queue)),
    el('td', {}, c.customer_name || ''), el('td', {}, names[c.agent_id] || ''), el('td', {}, T.codes[c.status] || c.status),
    el('td', {}, fmtSeconds(now - c.created_at)),
    el('td', {}, ['queued', 'active'].includes(c.status) ? el('a', { class: 'monitor', href: monitorUrl(c) }, T.monitor) : ''))));
  alerts.clear();
  for (const a of snap.alerts) alerts.set(a.id, a);
  renderAlerts();
}

// One-to-many sessions are watched on their own pages; every other contact on the monitor page.
function monitorUrl(c) {
  if (c.channel === 'livestream') return `/livestream/${c.id}/watch`;
  if (c.channel === 'group') return `/group/rooms/${c.id}`;
  return `/floor/monitor/${c.id}`;
}

function renderAlerts() {
  const now = Date.now() / 1000;
  const ul = document.getElementById('floor-alerts');
  const list = [...alerts.values()].sort((a, b) => b.raised_at - a.raised_at);
  ul.replaceChildren(...list.map((a) => el('li', { class: `notice alert-${a.kind}`, dataset: { alertId: a.id, kind: a.kind, contactId: a.contact_id } },
    el('b', {}, T.kinds[a.kind] || a.kind), ' ',
    el('a', { href: `/floor/monitor/${a.contact_id}` }, `#${a.contact_id} ${a.customer_name || ''}`),
    ` · ${a.agent_name || queueLabel(a.queue)} · ${fmtSeconds(now - a.raised_at)} `,
    el('button', { class: 'ack', onclick: () => ack(a.id) }, T.ack))));
  document.getElementById('alert-count').textContent = list.length;
  document.getElementById('no-alerts').hidden = list.length > 0;
}

function ack(id) {
  socket.timeout(10000).emit('ack_alert', { id }, (err, res) => {
    if (!err && res && res.ok) { alerts.delete(id); renderAlerts(); }
  });
}

socket.on('connect', refresh);
socket.on('event', (msg) => {
  if (msg.type === 'alert') { alerts.set(msg.alert.id, msg.alert); renderAlerts(); return; }
  if (msg.type === 'alert_cleared') { alerts.delete(msg.id); renderAlerts(); return; }
  if (msg.type === 'contact_event') return; // a watched contact's events are for the monitor page
  refresh();
});
setInterval(refresh, 3000);
