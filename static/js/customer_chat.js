// The customer chat page (role-play). The contact id and token live in sessionStorage so a reload or a
// dropped connection resumes the same conversation; client ids make resends idempotent.
import { clientId, el, readConfig } from './common.js';
import { roleplayToken, showCard, startRoleplay } from './roleplay_card.js';

const cfg = readConfig('customer-config');
const T = cfg.i18n;
const $ = (id) => document.getElementById(id);
const KEY = 'kefu.customer.chat';

let chat = JSON.parse(sessionStorage.getItem(KEY) || 'null'); // {contact_id, token}
let lastSeq = 0;
const pending = new Map();
const socket = io('/customer', { transports: ['websocket', 'polling'] });

function emit(event, data) {
  return new Promise((resolve) => socket.timeout(10000).emit(event, data, (err, res) => resolve(err ? { ok: false, error: 'timeout' } : res)));
}

function showChat() {
  $('start-form').hidden = true;
  $('chat').hidden = false;
}

function addEvent(ev) {
  if (ev.seq <= lastSeq) return;
  lastSeq = ev.seq;
  const box = $('cust-messages');
  if (ev.type === 'message') {
    if (ev.client_id) { pending.delete(ev.client_id); box.querySelector(`[data-client-id="${CSS.escape(ev.client_id)}"]`)?.remove(); }
    const who = ev.actor === 'customer' ? T.you : T.agent;
    box.append(el('div', { class: `msg ${ev.actor === 'customer' ? 'self' : 'agent'}`, dataset: { seq: ev.seq } },
      el('span', { class: 'who' }, who, el('time', { class: 'time' }, new Date(ev.ts * 1000).toLocaleTimeString(document.documentElement.lang || undefined, { hour12: false }))),
      el('div', { class: 'text' }, ev.text)));
    if (ev.actor !== 'customer') $('agent-typing').hidden = true;
  } else if (ev.type === 'typing' && ev.actor === 'agent') {
    $('agent-typing').hidden = !ev.data.typing;
  } else if (ev.type === 'assignment') {
    $('cust-status').textContent = T.joined.replace('__NAME__', ev.data.agent_name || T.agent);
  } else if (ev.type === 'contact.ended') {
    $('cust-status').textContent = T.ended;
    $('cust-composer').disabled = true;
    $('cust-send').disabled = true;
  } else if (ev.type === 'csat.invited') {
    $('csat').hidden = false;
  } else if (ev.type === 'transfer') {
    $('cust-status').textContent = T.waiting;
  }
  box.scrollTop = box.scrollHeight;
}

async function resume() {
  const res = await emit('resume', { contact_id: chat.contact_id, token: chat.token, after_seq: lastSeq });
  if (!res.ok) { sessionStorage.removeItem(KEY); chat = null; $('start-form').hidden = false; $('chat').hidden = true; return; }
  showChat();
  res.events.forEach(addEvent);
  for (const [cid, text] of pending) send(text, cid);
}

socket.on('connect', () => { $('cust-error').hidden = true; if (chat) resume(); });
socket.on('disconnect', () => { $('cust-error').textContent = T.reconnecting; $('cust-error').hidden = false; });
socket.on('event', (msg) => {
  if (msg.type !== 'contact_event' || !chat || msg.event.contact_id !== chat.contact_id) return;
  if (msg.event.seq > lastSeq + 1) { resume(); return; }
  addEvent(msg.event);
});

// Opened from a role-play link: the card shows who to play; the chat starts through the role-play (its scenario).
if (roleplayToken) {
  for (const id of ['cust-queue', 'cust-subject']) $(id).closest('label').hidden = true;
  $('cust-name').required = false;
  showCard($('roleplay-card'));
}

async function start() {
  if (!roleplayToken) {
    return emit('start', { name: $('cust-name').value, queue: $('cust-queue').value, subject: $('cust-subject').value, lang: cfg.lang });
  }
  try {
    return { ok: true, ...(await startRoleplay($('cust-name').value)) };
  } catch (err) {
    return { ok: false, error: err.message };
  }
}

$('start-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await start();
  // Refused (the queue is full: code 'queue_full', the message in the page's language) or invalid: say so on the
  // form, which stays open for another try.
  if (!res.ok) { $('start-error').textContent = res.error; $('start-error').hidden = false; return; }
  $('start-error').hidden = true;
  chat = { contact_id: res.contact_id, token: res.token };
  sessionStorage.setItem(KEY, JSON.stringify(chat));
  showChat();
  resume();
});

async function send(text, cid) {
  cid = cid || clientId();
  if (!pending.has(cid)) {
    pending.set(cid, text);
    $('cust-messages').append(el('div', { class: 'msg self pending', dataset: { clientId: cid } }, el('div', { class: 'text' }, text)));
  }
  const res = await emit('send', { contact_id: chat.contact_id, token: chat.token, text, client_id: cid });
  if (res.ok) {
    // The ack carries our own line (the server does not send it to this socket again).
    if (res.event && res.event.seq === lastSeq + 1) addEvent(res.event);
    else if (res.seq > lastSeq) await resume();
    pending.delete(cid);
    $('cust-messages').querySelector(`[data-client-id="${CSS.escape(cid)}"]`)?.remove();
  } else if (res.error !== 'timeout') {
    pending.delete(cid);
    $('cust-messages').querySelector(`[data-client-id="${CSS.escape(cid)}"]`)?.remove();
    $('cust-error').textContent = res.error;
    $('cust-error').hidden = false;
  }
}

// Typing start/stop is recorded; the ack carries the event (it takes a sequence number like any other).
async function sendTyping(on) {
  const res = await emit('typing', { contact_id: chat.contact_id, token: chat.token, typing: on });
  if (!res.ok || !res.event || res.event.seq <= lastSeq) return;
  if (res.event.seq === lastSeq + 1) addEvent(res.event);
  else resume();
}

$('cust-send').addEventListener('click', () => {
  const text = $('cust-composer').value.trim();
  if (!text || !chat) return;
  $('cust-composer').value = '';
  if (typing) { typing = false; clearTimeout(typingTimer); sendTyping(false); }
  send(text);
});
$('cust-composer').addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('cust-send').click(); } });
let typingTimer = null;
let typing = false;
$('cust-composer').addEventListener('input', () => {
  if (!chat) return;
  if (!typing) { typing = true; sendTyping(true); }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => { typing = false; sendTyping(false); }, 3000);
});
$('cust-leave').addEventListener('click', async () => { if (chat) await emit('leave', { contact_id: chat.contact_id, token: chat.token }); });
document.querySelectorAll('button.csat').forEach((b) => b.addEventListener('click', async () => {
  const res = await emit('rate', { contact_id: chat.contact_id, token: chat.token, score: Number(b.dataset.score) });
  if (res.ok) { $('csat-thanks').hidden = false; document.querySelectorAll('button.csat').forEach((x) => { x.disabled = true; }); }
}));

window.kefuCustomer = { get chat() { return chat; }, socket };
