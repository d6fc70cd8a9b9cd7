// The agent's group room: the feed, customers with their waiting/answered state, need clusters, pinned
// announcements, a mention picker and moves to one-to-one chats. The live view (members, clusters, pins) is
// computed by the server from the recording; the page asks for it again (at most twice a second) after events.
import { clientId, el, readConfig } from './common.js';

const cfg = readConfig('group-config');
const T = cfg.i18n;
const $ = (id) => document.getElementById(id);
const state = { room: null, lastSeq: 0, mentions: new Set(), names: new Map(), refreshTimer: null };
const socket = io('/group', { transports: ['websocket', 'polling'] });
window.kefuGroup = { socket, state };

function emit(event, data) {
  return new Promise((resolve) => socket.timeout(10000).emit(event, { room_id: cfg.roomId, ...data },
    (err, res) => resolve(err ? { ok: false, error: 'timeout' } : res)));
}

function showError(msg) {
  $('room-error').textContent = msg || '';
  $('room-error').hidden = !msg;
}

function nameOf(id) { return state.names.get(id) || id; }

function addEvent(ev) {
  if (ev.seq <= state.lastSeq) return;
  state.lastSeq = ev.seq;
  const feed = $('feed');
  const d = ev.data || {};
  if (ev.type === 'group.member_joined') state.names.set(d.member, d.name);
  if (ev.type === 'message') {
    const mine = ev.actor !== 'customer';
    const who = mine ? T.you : `${d.name || ''}`;
    const node = el('div', { class: `msg ${mine ? 'agent' : 'customer'}`, dataset: { seq: ev.seq, member: d.member || '' } },
      el('span', { class: 'who' }, who, d.cluster ? ` · ${d.cluster}` : ''),
      (d.mention_names && d.mention_names.length) ? el('div', { class: 'mentions' }, d.mention_names.map((n) => `@${n}`).join(' ')) : null,
      el('div', { class: 'text' }, ev.text));
    if (!mine && d.member) node.addEventListener('click', () => addMention(d.member));
    feed.append(node);
  } else if (ev.type === 'group.announcement') {
    feed.append(el('div', { class: 'msg agent announcement', dataset: { seq: ev.seq } },
      el('span', { class: 'who' }, `${T.announcement}${d.cluster ? ` · ${d.cluster}` : ''}`), el('div', { class: 'text' }, ev.text)));
  } else if (ev.type === 'group.member_left') {
    feed.append(el('div', { class: 'sys' }, T.leftRoom.replace('__NAME__', d.name || '')));
  } else if (ev.type === 'group.moved_private') {
    feed.append(el('div', { class: 'sys' }, T.movedRoom.replace('__NAME__', d.name || '')));
    $('privates').append(el('li', {}, `${d.name} → #${d.private_contact_id}`));
  }
  feed.scrollTop = feed.scrollHeight;
}

function renderRoom(room) {
  state.room = room;
  $('room-open').textContent = room.open ? T.open : T.closed;
  const members = $('members');
  members.replaceChildren();
  let waiting = 0;
  for (const m of room.members) {
    state.names.set(m.id, m.name);
    if (m.status === 'waiting') waiting += 1;
    const li = el('li', { class: `member st-${m.status}`, dataset: { member: m.id, status: m.status } },
      el('span', { class: 'name' }, m.name),
      el('span', { class: 'st' }, T[m.status] || m.status),
      el('button', { type: 'button', class: 'mention', title: T.mention, onclick: () => addMention(m.id) }, '@'));
    if (m.status !== 'private' && m.status !== 'left') {
      li.append(el('button', { type: 'button', class: 'move', onclick: () => movePrivate(m.id) }, T.move));
    }
    members.append(li);
  }
  $('waiting-count').textContent = String(waiting);
  const clusters = $('clusters');
  clusters.replaceChildren();
  const select = $('cluster-select');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, '—'));
  for (const c of room.clusters) {
    if (c.need) select.append(el('option', { value: c.need }, c.title));
    if (!c.waiting.length && !c.answered.length && !c.private.length) continue;
    const li = el('li', { class: 'cluster', dataset: { need: c.need || '', waiting: c.waiting.length } },
      el('strong', {}, c.title || T.other),
      el('div', { class: 'counts' }, `${T.waiting} ${c.waiting.length} · ${T.answered} ${c.answered.length}${c.private.length ? ` · ${T.private} ${c.private.length}` : ''}`),
      el('div', { class: 'who small' }, c.waiting.map(nameOf).join('、')));
    if (c.need && !c.individual) {
      li.append(el('button', { type: 'button', class: 'answer-cluster', onclick: () => { select.value = c.need; $('composer').focus(); } }, T.answerCluster));
    }
    if (c.waiting.length) {
      li.append(el('button', { type: 'button', class: 'mention-all', onclick: () => c.waiting.forEach(addMention) }, T.mentionAll));
    }
    clusters.append(li);
  }
  select.value = chosen;
  const pinned = $('pinned');
  pinned.replaceChildren(...room.pinned.map((p) => el('div', { class: 'ann', dataset: { seq: p.seq } },
    el('span', {}, p.text), ' ', el('button', { type: 'button', class: 'unpin', onclick: () => unpin(p.seq) }, T.unpin))));
}

function renderMentions() {
  $('mention-chips').replaceChildren(...[...state.mentions].map((id) => el('span', { class: 'chip', dataset: { member: id } }, `@${nameOf(id)}`)));
}

function addMention(id) { state.mentions.add(id); renderMentions(); }

async function refresh() {
  state.refreshTimer = null;
  const res = await emit('watch', { after_seq: state.lastSeq });
  if (!res.ok) { showError(res.error); return; }
  res.events.forEach(addEvent);
  renderRoom(res.room);
}

function scheduleRefresh() {
  if (!state.refreshTimer) state.refreshTimer = setTimeout(refresh, 500);
}

async function send() {
  const text = $('composer').value;
  if (!text.trim()) return;
  const res = await emit('reply', { text, mentions: [...state.mentions], cluster: $('cluster-select').value || null, client_id: clientId() });
  if (!res.ok) { showError(res.error); return; }
  showError('');
  $('composer').value = '';
  state.mentions.clear();
  renderMentions();
  addEvent(res.event);
  scheduleRefresh();
}

async function pin() {
  const text = $('composer').value;
  if (!text.trim()) return;
  const res = await emit('pin', { text, cluster: $('cluster-select').value || null });
  if (!res.ok) { showError(res.error); return; }
  showError('');
  $('composer').value = '';
  addEvent(res.event);
  scheduleRefresh();
}

async function unpin(seq) {
  const res = await emit('unpin', { seq });
  if (!res.ok) showError(res.error); else scheduleRefresh();
}

async function movePrivate(member) {
  const res = await emit('move_private', { member });
  if (!res.ok) showError(res.error); else { addEvent(res.event); scheduleRefresh(); }
}

$('send').addEventListener('click', send);
$('pin').addEventListener('click', pin);
$('mention-clear').addEventListener('click', () => { state.mentions.clear(); renderMentions(); });
$('composer').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(); });
$('close-room').addEventListener('click', async () => {
  if (!window.confirm(T.confirmClose)) return;
  const res = await emit('close', { code: $('close-code').value });
  if (!res.ok) showError(res.error); else scheduleRefresh();
});

socket.on('connect', () => { $('conn-status').textContent = T.connected; refresh(); });
socket.on('disconnect', () => { $('conn-status').textContent = T.reconnecting; });
socket.on('event', (msg) => {
  if (msg && msg.type === 'contact_event' && msg.event.contact_id === cfg.roomId) {
    addEvent(msg.event);
    scheduleRefresh();
  }
});
