// A person in a group room's audience (joined with the room's link). The member id and token live in
// sessionStorage so a reload resumes; client ids make resends idempotent. Text is shown with textContent only.
import { clientId, el, readConfig } from './common.js';

const cfg = readConfig('join-config');
const T = cfg.i18n;
const $ = (id) => document.getElementById(id);
const KEY = `kefu.group.${cfg.roomId}`;
let me = JSON.parse(sessionStorage.getItem(KEY) || 'null'); // {member_id, member_token}
let lastSeq = 0;
const socket = io('/group', { transports: ['websocket', 'polling'] });
window.kefuGroupCustomer = { socket, get me() { return me; } };

function emit(event, data) {
  return new Promise((resolve) => socket.timeout(10000).emit(event, { room_id: cfg.roomId, ...data },
    (err, res) => resolve(err ? { ok: false, error: 'timeout' } : res)));
}

function showError(msg) { $('join-error').textContent = msg || ''; $('join-error').hidden = !msg; }

function addPinned(seq, text) {
  if (document.querySelector(`#pinned [data-seq="${seq}"]`)) return;
  $('pinned').append(el('div', { class: 'ann', dataset: { seq } }, text));
}

function addEvent(ev) {
  if (ev.seq <= lastSeq) return;
  lastSeq = ev.seq;
  const d = ev.data || {};
  const feed = $('feed');
  if (ev.type === 'message') {
    const self = me && d.member === me.member_id;
    const who = ev.actor === 'customer' ? (self ? T.you : d.name) : T.agent;
    feed.append(el('div', { class: `msg ${ev.actor === 'customer' ? (self ? 'self' : 'customer') : 'agent'}`, dataset: { seq: ev.seq } },
      el('span', { class: 'who' }, who),
      (d.mention_names && d.mention_names.length) ? el('div', { class: 'mentions' }, d.mention_names.map((n) => `@${n}`).join(' ')) : null,
      el('div', { class: 'text' }, ev.text)));
  } else if (ev.type === 'group.announcement') {
    addPinned(ev.seq, ev.text);
    feed.append(el('div', { class: 'msg agent announcement' }, el('span', { class: 'who' }, T.announcement), el('div', { class: 'text' }, ev.text)));
  } else if (ev.type === 'group.unpinned') {
    document.querySelector(`#pinned [data-seq="${d.announcement_seq}"]`)?.remove();
  } else if (ev.type === 'group.member_joined') {
    feed.append(el('div', { class: 'sys' }, T.joinedRoom.replace('__NAME__', d.name || '')));
  } else if (ev.type === 'group.member_left') {
    feed.append(el('div', { class: 'sys' }, T.leftRoom.replace('__NAME__', d.name || '')));
  } else if (ev.type === 'contact.ended') {
    feed.append(el('div', { class: 'sys' }, T.ended));
    $('composer').disabled = true;
    $('send').disabled = true;
  }
  feed.scrollTop = feed.scrollHeight;
}

function enter() { $('join-form').hidden = true; $('in-room').hidden = false; }

async function resume() {
  const res = await emit('resume', { member_id: me.member_id, member_token: me.member_token, after_seq: lastSeq });
  if (!res.ok) { sessionStorage.removeItem(KEY); me = null; $('join-form').hidden = false; $('in-room').hidden = true; return; }
  enter();
  res.pinned.forEach((p) => addPinned(p.seq, p.text));
  res.events.forEach(addEvent);
}

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await emit('join', { token: cfg.token, name: $('join-name').value });
  if (!res.ok) { window.alert(res.error); return; }
  me = { member_id: res.member_id, member_token: res.member_token };
  sessionStorage.setItem(KEY, JSON.stringify(me));
  enter();
  res.events.forEach(addEvent);
});

$('send').addEventListener('click', async () => {
  const text = $('composer').value;
  if (!text.trim()) return;
  const res = await emit('post', { member_id: me.member_id, member_token: me.member_token, text, client_id: clientId() });
  if (!res.ok) { showError(res.error); return; }
  showError('');
  $('composer').value = '';
});

$('leave').addEventListener('click', async () => {
  await emit('leave', { member_id: me.member_id, member_token: me.member_token });
  sessionStorage.removeItem(KEY);
  $('composer').disabled = true;
  $('send').disabled = true;
});

socket.on('connect', () => { showError(''); if (me) resume(); });
socket.on('disconnect', () => showError(T.reconnecting));
socket.on('event', (ev) => {
  if (ev.type === 'group.private') {
    // The agent moved me to a one-to-one chat: the customer chat page resumes it from sessionStorage.
    sessionStorage.setItem('kefu.customer.chat', JSON.stringify({ contact_id: ev.contact_id, token: ev.token }));
    $('private-note').hidden = false;
    return;
  }
  if (ev.room_id === cfg.roomId) addEvent(ev);
});
