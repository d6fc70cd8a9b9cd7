// The trainee desk: agent state, contacts, the conversation. Panels (CRM, ticket, KB) live in desk_panels.js,
// the conversation list in desk_list.js, arrival alerts in desk_alerts.js, shortcuts in desk_keys.js; channel
// modules (desk_call.js, desk_video.js, desk_email.js) show their own pane for the selected contact.
import { api, clientId, el, fmtSeconds, readConfig } from './common.js';
import * as alerts from './desk_alerts.js';
import { initKeys } from './desk_keys.js';
import { conversationLines } from './desk_lines.js';
import { channelIcon, facts, isCall, renderList, tickWaits } from './desk_list.js';
import { initPanels } from './desk_panels.js';

const cfg = readConfig('desk-config');
const T = cfg.i18n;
const $ = (id) => document.getElementById(id);
const { fmtTime, systemLabel, renderSnippets } = conversationLines(cfg);

const state = {
  contacts: new Map(), // id -> {contact, events: [], lastSeq, customerTyping}
  current: null,
  agent: null,
  pending: new Map(), // client_id -> {contact_id, text}
  connected: false,
};

const socket = io('/desk', { transports: ['websocket', 'polling'] });
const panels = initPanels({ cfg, getCurrent: () => state.current, socket, onArticleSent: () => {} });

function emit(event, data) {
  return new Promise((resolve) => socket.timeout(10000).emit(event, data, (err, res) => {
    resolve(err ? { ok: false, error: 'timeout' } : res);
  }));
}

socket.on('connect', async () => {
  state.connected = true;
  $('conn-status').textContent = T.connected;
  const res = await emit('hello', {});
  if (!res || !res.ok) return;
  renderAgent(res.agent);
  renderQueues(res.queues);
  const seen = new Set();
  for (const { contact, events } of res.contacts) {
    seen.add(contact.id);
    upsertContact(contact, events);
  }
  for (const id of [...state.contacts.keys()]) {
    if (!seen.has(id)) { const c = state.contacts.get(id); c.contact.status = 'closed'; }
  }
  if (!state.current && res.contacts.length) selectContact(res.contacts[0].contact.id);
  renderContactList();
  renderConversation();
  // Resend what the server never acknowledged; client_id makes this safe.
  for (const [cid, p] of state.pending) sendMessage(p.contact_id, p.text, cid);
});

socket.on('disconnect', () => {
  state.connected = false;
  $('conn-status').textContent = T.disconnected;
});

socket.on('event', (msg) => {
  if (msg.type === 'contact_event') onContactEvent(msg.event);
  else if (msg.type === 'agent_state' && msg.agent && cfg.me.id === msg.agent.agent_id) renderAgent(msg.agent);
  else if (msg.type === 'queue_figures') renderQueues(msg.queues);
  else if (msg.type === 'callback_due') { panels.callbackDue(msg); notice(`${T.callbackDue}: ${msg.callback ? msg.callback.note || '' : ''}`); }
  else if (msg.type === 'transfer_result') {
    const who = msg.status === 'taken' ? T.transferTaken : T.transferClosed;
    notice(`#${msg.contact_id} ${msg.customer_name || ''} · ${who} ${msg.agent_name}${msg.code ? ` (${msg.code})` : ''}`);
  }
});

function notice(text) {
  $('notices-card').hidden = false;
  $('notices').prepend(el('li', { class: 'notice' }, `${new Date().toLocaleTimeString()} ${text}`));
}

async function onContactEvent(ev) {
  let entry = state.contacts.get(ev.contact_id);
  if (!entry) {
    // A contact reaches this desk by assignment, or when this lead takes it over from a trainee.
    if (!['assignment', 'monitor.takeover'].includes(ev.type) || ev.data.agent_id !== cfg.me.id) return;
    const res = await emit('join_contact', { contact_id: ev.contact_id });
    if (!res.ok) return;
    const entry = upsertContact(res.contact, res.events);
    announceArrival(entry);
    renderContactList();
    renderConversation();
    return;
  }
  if (ev.seq <= entry.lastSeq) return; // already have it (catch-up and live push can overlap)
  // A takeover is applied at once: the contact is no longer this desk's, so a resync would be refused.
  if (ev.seq > entry.lastSeq + 1 && ev.type !== 'monitor.takeover') { await resync(ev.contact_id); return; }
  applyEvent(entry, ev);
  monitorNotice(entry, ev);
  renderContactList();
  if (state.current === ev.contact_id) renderConversation();
  if (ev.type === 'message' && ev.actor === 'customer') {
    panels.customerSpoke(ev.contact_id);
    if (state.current !== ev.contact_id || document.hidden) {
      alerts.chime('message');
      alerts.notify(T.newMessage, `${entry.contact.customer_name || ''}: ${ev.text || ''}`.slice(0, 120), () => show(ev.contact_id));
    }
  }
  if (ev.type === 'call.answered' || ev.type === 'call.ended' || ev.type === 'contact.ended') renderAgent(state.agent);
}

// A new contact on this desk: a ringing call takes the middle pane at once (and the answer button the keyboard
// focus); a chat or mail goes on top of the list with its unread count and a chime, without pulling the agent
// away from the customer they are writing to. The title and a desktop notification say it either way.
function announceArrival(entry) {
  const c = entry.contact;
  const who = c.customer_name || `#${c.id}`;
  if (isCall(c) && c.status === 'active') {
    show(c.id);
    window.focus();
    focusWhenReady(c.channel === 'video' ? 'video-answer' : 'call-answer');
    alerts.ring(() => [...state.contacts.values()].some((e) => facts(e).ringing));
    alerts.notify(T.newCall, who, () => show(c.id));
    return;
  }
  if (!state.current) selectContact(c.id);
  else if (state.current !== c.id && entry.unread === 0) entry.unread = 1; // the arrival itself is news
  alerts.chime();
  alerts.notify(T.newChat, `${who}${c.subject ? ` · ${c.subject}` : ''}`, () => show(c.id));
}

// The call bar enables its Answer button once it has the call's state from the server: focus it then.
function focusWhenReady(id, tries = 50) {
  const b = $(id);
  if (b && !b.disabled && b.offsetParent !== null) { b.focus(); return; }
  if (tries > 0) setTimeout(() => focusWhenReady(id, tries - 1), 100);
}

function show(id) {
  selectContact(id);
  renderContactList();
  renderConversation();
}

async function resync(contactId) {
  const entry = state.contacts.get(contactId);
  const res = await emit('sync', { contact_id: contactId, after_seq: entry.lastSeq });
  if (!res.ok) return;
  entry.contact = res.contact;
  for (const ev of res.events) {
    if (ev.seq <= entry.lastSeq) continue;
    applyEvent(entry, ev);
    monitorNotice(entry, ev);
  }
  renderContactList();
  if (state.current === contactId) renderConversation();
}

function upsertContact(contact, events) {
  const entry = state.contacts.get(contact.id) || { contact, events: [], lastSeq: 0, customerTyping: false, unread: 0 };
  entry.contact = contact;
  for (const ev of events) if (ev.seq > entry.lastSeq) applyEvent(entry, ev);
  state.contacts.set(contact.id, entry);
  return entry;
}

function applyEvent(entry, ev) {
  entry.events.push(ev);
  entry.lastSeq = ev.seq;
  if (ev.type === 'typing' && ev.actor === 'customer') entry.customerTyping = ev.data.typing;
  if (ev.type === 'message' && ev.actor === 'customer') {
    entry.customerTyping = false;
    if (state.current !== ev.contact_id) entry.unread += 1;
  }
  if (ev.type === 'message' && ev.client_id) state.pending.delete(ev.client_id);
  if (ev.type === 'contact.ended') entry.contact.status = 'wrap_up';
  if (ev.type === 'wrap_up') entry.contact.status = 'closed';
  if (ev.type === 'transfer') entry.contact.status = 'transferred';
  if (ev.type === 'assignment') entry.contact.status = 'active';
  if (ev.type === 'monitor.takeover') {
    entry.contact.agent_id = ev.data.agent_id;
    if (ev.data.agent_id !== cfg.me.id) {
      entry.contact.status = 'transferred'; // the lead has it now
      if (state.current === ev.contact_id) state.current = null;
    }
  }
}

// Live monitoring events worth a notice beside the conversation (not replayed on reconnect).
function monitorNotice(entry, ev) {
  const who = `#${ev.contact_id} ${entry.contact.customer_name || ''}`;
  if (ev.type === 'monitor.takeover' && ev.data.agent_id !== cfg.me.id) notice(`${who} · ${T.takenOver} ${ev.data.agent_name}`);
  if (ev.type === 'monitor.coach' && ev.data.to_agent_id === cfg.me.id) notice(`${who} · ${T.coachNote}: ${ev.text}`);
}

function renderAgent(agent) {
  if (!agent) return;
  state.agent = agent;
  const s = agent.effective_state || agent.state;
  // The ACD says on_call from the moment a call rings until its wrap-up; the desk adds whether it still rings.
  const calls = [...state.contacts.values()].map(facts);
  const call = calls.some((f) => f.onCall) ? 'on_call' : calls.some((f) => f.ringing) ? 'ringing' : '';
  $('agent-state').textContent = call === 'ringing' ? T.ringing : s === 'on_call' || call === 'on_call' ? T.onCall : T[s] || s;
  $('agent-state').dataset.state = s;
  $('agent-state').dataset.call = call;
  document.querySelectorAll('#state-switch button').forEach((b) => b.classList.toggle('on', b.dataset.state === agent.state));
  $('state-timer').textContent = agent.acw_until ? `(${T.acw})` : '';
}

function renderQueues(queues) {
  const body = $('queue-figures').querySelector('tbody');
  body.replaceChildren();
  const label = (q) => { const hit = cfg.queues.find((x) => x.id === q); return hit ? hit.label : null; };
  for (const [q, f] of Object.entries(queues || {})) {
    const name = label(q);
    if (!name) continue; // queues of another language's pack, group rooms and livestreams are not served here
    const sl = f.service_level === null || f.service_level === undefined ? '-' : `${Math.round(f.service_level * 100)}%`;
    body.append(el('tr', { dataset: { queue: q }, class: f.waiting ? 'has-waiting' : '' },
      el('td', {}, channelIcon(q.split('.')[0], cfg.channels[q.split('.')[0]]), ' ', name), el('td', { class: 'waiting' }, f.waiting),
      el('td', {}, fmtSeconds(f.longest_wait)), el('td', {}, sl)));
  }
}

function renderContactList() {
  const open = renderList({ state, cfg, T, onSelect: show, now: Date.now() / 1000 });
  const unread = open.reduce((n, e) => n + (e.unread || 0), 0);
  const ringing = open.some((e) => e.facts.ringing);
  $('unread-total').hidden = !unread;
  $('unread-total').textContent = unread;
  alerts.setTitle(unread, ringing, T.ringing);
  if (!ringing) alerts.stopRinging();
}

function selectContact(id) {
  state.current = id;
  const entry = state.contacts.get(id);
  if (entry) entry.unread = 0;
  panels.contactChanged(entry ? entry.contact : null);
  // Channel modules (desk_video.js) show their own panels for the selected contact.
  document.dispatchEvent(new CustomEvent('kefu:contact-selected', { detail: { contact: entry ? entry.contact : null } }));
}

function renderConversation() {
  const entry = state.current ? state.contacts.get(state.current) : null;
  const box = $('messages');
  box.replaceChildren();
  const active = entry && entry.contact.status === 'active';
  $('composer').disabled = !active;
  $('send').disabled = !active;
  $('end-contact').disabled = !active;
  $('wrap-up-go').disabled = !entry || !['active', 'wrap_up'].includes(entry.contact.status);
  $('conv-scorecard').hidden = !entry || entry.contact.status !== 'closed';
  $('conv-transcript').hidden = !entry;
  if (!entry) { $('conv-title').textContent = ''; $('conv-channel').replaceChildren(); $('conv-channel-name').textContent = ''; return; }
  const c = entry.contact;
  $('conv-title').textContent = `${c.customer_name || ''} #${c.id}`;
  $('conv-channel').replaceChildren(channelIcon(c.channel, cfg.channels[c.channel]));
  $('conv-channel-name').textContent = cfg.channels[c.channel] || '';
  $('conv-status').textContent = T.statuses[c.status] || c.status;
  $('conv-scorecard').href = `/contacts/${c.id}/scorecard`;
  $('conv-transcript').href = `/contacts/${c.id}`;
  for (const ev of entry.events) {
    if (ev.type === 'message') {
      box.append(el('div', { class: `msg ${ev.actor}`, dataset: { seq: ev.seq } },
        el('span', { class: 'who' }, T[ev.actor] || ev.actor, el('time', { class: 'time', datetime: new Date(ev.ts * 1000).toISOString() }, fmtTime(ev.ts))),
        el('div', { class: 'text' }, ev.text)));
    } else {
      const label = systemLabel(ev);
      if (label) box.append(el('div', { class: 'sys', dataset: { seq: ev.seq, type: ev.type } }, label));
    }
  }
  for (const [cid, p] of state.pending) {
    if (p.contact_id === entry.contact.id) box.append(el('div', { class: 'msg agent pending', dataset: { clientId: cid } }, el('div', { class: 'text' }, p.text)));
  }
  $('typing-indicator').hidden = !entry.customerTyping;
  box.scrollTop = box.scrollHeight;
}

async function sendMessage(contactId, text, cid) {
  cid = cid || clientId();
  state.pending.set(cid, { contact_id: contactId, text });
  renderConversation();
  const res = await emit('send', { contact_id: contactId, text, client_id: cid });
  if (res && res.ok) {
    state.pending.delete(cid);
    $('send-error').hidden = true;
    const entry = state.contacts.get(contactId);
    if (entry && res.event.seq === entry.lastSeq + 1) applyEvent(entry, res.event);
    else if (entry && res.event.seq > entry.lastSeq) await resync(contactId);
    renderConversation();
  } else if (res && res.error !== 'timeout') {
    state.pending.delete(cid);
    $('send-error').textContent = res.error;
    $('send-error').hidden = false;
    renderConversation();
  }
}

// Composer: '/' opens service-phrase snippets; typing start/stop are recorded.
let typingTimer = null;
let typingOn = false;
function setTyping(on) {
  if (!state.current || typingOn === on) return;
  typingOn = on;
  // The ack carries the recorded event (the server does not send it to this socket again).
  emit('typing', { contact_id: state.current, typing: on }).then((res) => { if (res && res.ok && res.event) onContactEvent(res.event); });
}

$('composer').addEventListener('input', (e) => {
  const v = e.target.value;
  $('char-count').textContent = `${v.length}/${cfg.maxChars}`;
  setTyping(v.length > 0);
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => setTyping(false), 4000);
  renderSnippets(v);
});

$('composer').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('send').click(); }
});

$('send').addEventListener('click', () => {
  const text = $('composer').value.trim();
  if (!text || !state.current) return;
  $('composer').value = '';
  $('char-count').textContent = `0/${cfg.maxChars}`;
  $('snippet-menu').hidden = true;
  setTyping(false);
  sendMessage(state.current, text);
});

document.querySelectorAll('#state-switch button').forEach((b) => b.addEventListener('click', async () => {
  // Going available is the gesture that lets the page play sounds and ask for desktop notifications.
  if (b.dataset.state === 'available') { alerts.unlock(); alerts.askPermission(); }
  const res = await emit('set_state', { state: b.dataset.state });
  if (res.ok) renderAgent(res.agent);
}));

$('end-contact').addEventListener('click', async () => {
  if (!state.current) return;
  const res = await emit('end', { contact_id: state.current });
  if (!res.ok) alert(res.error);
});

$('wrap-up-go').addEventListener('click', async () => {
  if (!state.current) return;
  const res = await emit('wrap_up', { contact_id: state.current, code: $('wrap-up-code').value, notes: $('wrap-up-notes').value });
  if (!res.ok) { alert(res.error); return; }
  const entry = state.contacts.get(state.current);
  entry.contact = res.contact;
  $('wrap-up-notes').value = '';
  if (entry.contact.simulated) {
    // Practice feedback: the scorecard is one click away from the desk (graded in the background).
    const li = el('li', { class: 'notice scorecard-notice' }, `${new Date().toLocaleTimeString()} #${entry.contact.id} ${entry.contact.customer_name || ''} · `,
      el('a', { href: `/contacts/${entry.contact.id}/scorecard`, class: 'scorecard-link' }, T.finishedPractice));
    $('notices-card').hidden = false;
    $('notices').prepend(li);
  }
  state.current = null;
  const next = [...state.contacts.values()].find((e) => ['active', 'wrap_up'].includes(e.contact.status));
  if (next) selectContact(next.contact.id); else panels.contactChanged(null);
  renderContactList();
  renderConversation();
});

$('transfer-go').addEventListener('click', async () => {
  if (!state.current) return;
  const res = await emit('transfer', { contact_id: state.current, target_kind: $('transfer-kind').value,
    target: $('transfer-target').value, note: $('transfer-note').value });
  if (!res.ok) { alert(res.error); return; }
  state.contacts.get(state.current).contact.status = 'transferred';
  state.current = null;
  renderContactList();
  renderConversation();
});

$('practice-start').addEventListener('click', async () => {
  const id = $('practice-scenario').value;
  if (!id) return;
  try {
    await api('POST', '/api/sim/customers', { scenario_id: id });
    $('practice-status').textContent = T.practiceStarted;
  } catch (e) { $('practice-status').textContent = e.message; }
});

setInterval(async () => {
  if (!state.connected) return;
  const res = await emit('figures', {});
  if (res && res.ok) { renderQueues(res.queues); if (res.agent) renderAgent(res.agent); }
}, 5000);

document.addEventListener('click', alerts.unlock, { once: true });
function renderSoundButton() {
  const on = alerts.soundOn();
  $('alert-sound').setAttribute('aria-pressed', String(on));
  $('alert-sound').textContent = on ? T.soundOn : T.soundOff;
}
$('alert-sound').addEventListener('click', () => { alerts.setSound(!alerts.soundOn()); renderSoundButton(); });
renderSoundButton();
initKeys({ select: show, currentId: () => state.current });
setInterval(() => tickWaits(cfg, Date.now() / 1000), 1000);

window.kefuDesk = { state, socket, alerts }; // for e2e tests and debugging
