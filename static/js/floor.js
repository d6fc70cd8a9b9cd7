// The lead's floor: refreshed from the /floor namespace on every state change, and every 3 s for the clocks.
import { el, fmtSeconds, readConfig } from './common.js';

const cfg = readConfig('floor-config');
const socket = io('/floor', { transports: ['websocket', 'polling'] });
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
  const ab = document.querySelector('#floor-agents tbody');
  ab.replaceChildren(...snap.agents.map((a) => {
    const s = a.effective_state || a.state;
    const load = Object.entries(a.load || {}).map(([ch, n]) => `${ch} ${n}/${(a.capacity || {})[ch] ?? '-'}`).join(' ');
    return el('tr', { dataset: { agentId: a.agent_id } }, el('td', {}, a.name), el('td', {}, a.level || ''),
      el('td', { class: `state-${s}` }, cfg.i18n.codes[s] || s), el('td', {}, fmtSeconds(a.since ? now - a.since : null)), el('td', {}, load));
  }));
  const qb = document.querySelector('#floor-queues tbody');
  qb.replaceChildren(...Object.entries(snap.queues).map(([q, f]) => el('tr', { dataset: { queue: q } }, el('td', {}, q),
    el('td', {}, f.waiting), el('td', {}, fmtSeconds(f.longest_wait)),
    el('td', {}, f.service_level == null ? '-' : `${Math.round(f.service_level * 100)}%`),
    el('td', {}, fmtSeconds(f.asa)), el('td', {}, f.abandon_rate == null ? '-' : `${Math.round(f.abandon_rate * 100)}%`))));
  const cb = document.querySelector('#floor-contacts tbody');
  cb.replaceChildren(...snap.contacts.map((c) => el('tr', { dataset: { contactId: c.id } },
    el('td', {}, el('a', { href: `/contacts/${c.id}`, title: cfg.i18n.open }, `#${c.id}`)), el('td', {}, c.queue),
    el('td', {}, c.customer_name || ''), el('td', {}, names[c.agent_id] || ''), el('td', {}, cfg.i18n.codes[c.status] || c.status),
    el('td', {}, fmtSeconds(now - c.created_at)))));
}

socket.on('connect', refresh);
socket.on('event', () => refresh());
setInterval(refresh, 3000);
