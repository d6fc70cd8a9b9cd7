// The desk's conversation list: a channel icon, the customer, unread count, how long the customer has waited for
// the agent (coloured against the response SLA), newest activity on top and ringing calls above everything.
import { el, fmtSeconds } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
// Simple outline icons (24x24 viewBox), drawn here so no icon font or image is needed.
const ICONS = {
  chat: 'M4 5h16v11H9l-5 4z',
  email: 'M3 6h18v12H3z M3 6l9 7 9-7',
  voice: 'M6 3l4 1 1 4-2 2a12 12 0 0 0 5 5l2-2 4 1 1 4-2 2C10 20 4 14 4 5z',
  video: 'M3 7h12v10H3z M15 11l6-4v10l-6-4',
  livestream: 'M12 12m-2 0a2 2 0 1 0 4 0a2 2 0 1 0 -4 0 M7 7a7 7 0 0 0 0 10 M17 7a7 7 0 0 1 0 10',
  group: 'M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z M16 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z M2 20c0-4 3-6 6-6s6 2 6 6 M14 14c3 0 8 1 8 6',
};

export function channelIcon(channel, label) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `ch-svg ch-${channel}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label || channel);
  const title = document.createElementNS(SVG, 'title');
  title.textContent = label || channel;
  svg.append(title);
  for (const d of (ICONS[channel] || ICONS.chat).split(' M').map((p, i) => (i ? `M${p}` : p))) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

export const isCall = (contact) => contact && (contact.channel === 'voice' || contact.channel === 'video');

// Facts about one conversation that the list (and the alerts) need, read from its events.
export function facts(entry) {
  let lastActivity = entry.contact.assigned_at || entry.contact.created_at || 0;
  let waitingSince = null;
  let answered = false;
  let callEnded = false;
  for (const ev of entry.events) {
    if (ev.type === 'message' || ev.type === 'assignment' || ev.type.startsWith('email.')) lastActivity = Math.max(lastActivity, ev.ts);
    if ((ev.type === 'message' && ev.actor === 'customer') || ev.type === 'email.received') waitingSince = waitingSince || ev.ts;
    if ((ev.type === 'message' && ev.actor === 'agent') || ev.type === 'email.sent') waitingSince = null;
    if (ev.type === 'assignment' && isCall(entry.contact)) waitingSince = ev.ts;
    if (ev.type === 'call.answered') { answered = true; waitingSince = null; }
    if (ev.type === 'call.ended' || ev.type === 'contact.ended') callEnded = true;
  }
  const live = entry.contact.status === 'active';
  const ringing = live && isCall(entry.contact) && !answered && !callEnded;
  const onCall = live && isCall(entry.contact) && answered && !callEnded;
  if (!live) waitingSince = null;
  return { lastActivity, waitingSince, ringing, onCall };
}

function slaClass(waited, sla) {
  if (waited === null) return 'sla-none';
  if (waited >= sla) return 'sla-breach';
  return waited >= sla / 2 ? 'sla-warn' : 'sla-ok';
}

// Ringing calls first, then conversations in progress by their latest activity (newest on top), then those in
// wrap-up.
export function ordered(entries) {
  const rank = (e) => (e.facts.ringing ? 0 : e.contact.status === 'active' ? 1 : 2);
  return entries.sort((a, b) => rank(a) - rank(b) || b.facts.lastActivity - a.facts.lastActivity);
}

export function renderList({ state, cfg, T, onSelect, now }) {
  const open = [];
  const finished = [];
  for (const entry of state.contacts.values()) {
    entry.facts = facts(entry);
    if (entry.contact.status === 'closed') finished.push(entry);
    else if (entry.contact.status !== 'transferred') open.push(entry);
  }
  const ul = document.getElementById('contact-list');
  ul.replaceChildren(...ordered(open).map((entry) => item(entry, { state, cfg, T, onSelect, now })));
  document.getElementById('contact-list-empty').hidden = open.length > 0;
  const done = document.getElementById('finished-list');
  done.replaceChildren(...finished.slice(-8).reverse().map((entry) => finishedItem(entry, cfg, T)));
  document.getElementById('finished-head').hidden = finished.length === 0;
  return open;
}

function queueLabel(cfg, q) {
  const hit = (cfg.queues || []).find((x) => x.id === q);
  return hit ? hit.label : (cfg.channels[(q || '').split('.')[0]] || '');
}

function item(entry, { state, cfg, T, onSelect, now }) {
  const c = entry.contact;
  const f = entry.facts;
  const on = state.current === c.id;
  const waited = f.waitingSince === null ? null : Math.max(0, now - f.waitingSince);
  const chLabel = cfg.channels[c.channel] || c.channel;
  const li = el('li', {
    class: `contact ch-${c.channel} ${on ? 'on' : ''} ${f.ringing ? 'ringing' : ''} ${entry.unread ? 'unread' : ''} ${slaClass(waited, cfg.slaSeconds)}`,
    dataset: { contactId: c.id, channel: c.channel },
    tabindex: '0', // a list item the keyboard reaches: Enter or Space opens it
    'aria-current': on ? 'true' : 'false',
    onclick: () => onSelect(c.id),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect(c.id); } },
  });
  li.append(
    el('span', { class: 'ch-icon' }, channelIcon(c.channel, chLabel)),
    el('span', { class: 'who' },
      el('span', { class: 'name' }, c.customer_name || `#${c.id}`),
      el('span', { class: 'sub muted' }, c.subject || queueLabel(cfg, c.queue))),
    el('span', { class: 'side' },
      entry.unread ? el('span', { class: 'badge unread-count', 'aria-label': `${entry.unread} ${T.unread}` }, entry.unread) : null,
      f.ringing ? el('span', { class: 'tag warn ringing-tag' }, T.ringing) : null,
      c.status === 'wrap_up' ? el('span', { class: 'tag warn' }, T.statuses.wrap_up) : null,
      el('span', { class: 'wait', dataset: { since: f.waitingSince === null ? '' : f.waitingSince } },
        waited === null ? '' : fmtSeconds(waited))),
  );
  return li;
}

function finishedItem(entry, cfg, T) {
  const c = entry.contact;
  const chLabel = cfg.channels[c.channel] || c.channel;
  return el('li', { class: 'contact finished', dataset: { contactId: c.id } },
    el('span', { class: 'ch-icon' }, channelIcon(c.channel, chLabel)),
    el('span', { class: 'who' }, el('span', { class: 'name' }, c.customer_name || `#${c.id}`)),
    el('span', { class: 'side' },
      el('a', { href: `/contacts/${c.id}/scorecard`, class: 'scorecard-link' }, T.scorecard),
      ' ',
      el('a', { href: `/contacts/${c.id}`, class: 'transcript-link' }, T.transcript)));
}

// Once a second: waiting times and SLA colours move on without rebuilding the list (keeps keyboard focus).
export function tickWaits(cfg, now) {
  document.querySelectorAll('#contact-list li.contact .wait').forEach((span) => {
    const since = span.dataset.since;
    const li = span.closest('li');
    li.classList.remove('sla-ok', 'sla-warn', 'sla-breach', 'sla-none');
    if (!since) { span.textContent = ''; li.classList.add('sla-none'); return; }
    const waited = Math.max(0, now - Number(since));
    span.textContent = fmtSeconds(waited);
    li.classList.add(slaClass(waited, cfg.slaSeconds));
  });
}
