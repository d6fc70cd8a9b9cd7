// Monitoring one live contact from the /floor namespace: the transcript and the customer's mood live, a private
// coaching note to the agent, take over. Voice monitoring (listen, whisper, barge) lives in monitor_voice.js.
import { el, fmtSeconds, readConfig } from './common.js';

const cfg = readConfig('monitor-config');
const T = cfg.i18n;
const L = cfg.labels;
const eventLabel = (type) => L.events[type] || L.families[type.split('.')[0]] || L.otherEvent;
const $ = (id) => document.getElementById(id);
const socket = io('/floor', { transports: ['websocket', 'polling'] });
const contactId = cfg.contact.id;
const events = new Map(); // seq -> event
let recorded = false;

function emit(event, data) {
  return new Promise((resolve) => socket.timeout(10000).emit(event, data, (err, res) => {
    resolve(err ? { ok: false, error: 'timeout' } : res);
  }));
}

function showError(text) {
  $('mon-error').textContent = text || '';
  $('mon-error').hidden = !text;
}

socket.on('connect', async () => {
  const res = await emit('watch', { contact_id: contactId, record: !recorded });
  if (!res.ok) { showError(res.error); return; }
  recorded = true;
  for (const ev of res.events) events.set(ev.seq, ev);
  setStatus(res.contact.status);
  render();
});

socket.on('event', (msg) => {
  if (msg.type !== 'contact_event' || msg.event.contact_id !== contactId) return;
  const ev = msg.event;
  events.set(ev.seq, ev);
  if (ev.type === 'contact.ended') setStatus('wrap_up');
  if (ev.type === 'wrap_up') setStatus('closed');
  if (ev.type === 'contact.abandoned') setStatus('abandoned');
  if (ev.type === 'assignment') setStatus('active');
  render();
});

function setStatus(status) {
  $('mon-status').textContent = T.codes[status] || status;
  $('mon-status').dataset.status = status;
}

function line(ev) {
  switch (ev.type) {
    case 'message':
      return el('div', { class: `msg ${ev.actor === 'customer' ? 'customer' : 'agent'}`, dataset: { seq: ev.seq } },
        el('span', { class: 'who' }, T[ev.actor] || ev.actor), el('div', { class: 'text' }, ev.text));
    case 'monitor.coach':
      return el('div', { class: 'sys coach', dataset: { seq: ev.seq, type: ev.type } }, `${T.coach}: ${ev.text}`);
    case 'monitor.takeover':
      return el('div', { class: 'sys', dataset: { seq: ev.seq, type: ev.type } }, `${T.takenOver} ${ev.data.agent_name}`,
        ev.data.agent_id === cfg.me ? el('a', { href: '/desk' }, ` · ${T.toDesk}`) : null);
    case 'customer.state': return null;
    default:
      return ev.type.startsWith('typing') ? null : el('div', { class: 'sys', dataset: { seq: ev.seq, type: ev.type } }, eventLabel(ev.type));
  }
}

function render() {
  const list = [...events.values()].sort((a, b) => a.seq - b.seq);
  $('mon-events').replaceChildren(...list.map(line).filter(Boolean));
  $('mon-events').scrollTop = $('mon-events').scrollHeight;
  const mood = list.filter((e) => e.type === 'customer.state').pop();
  if (mood) {
    $('mon-mood').textContent = T.moods[mood.data.emotion_name] || mood.data.emotion_name;
    $('mon-mood').dataset.emotion = mood.data.emotion_name;
    $('mon-patience').textContent = mood.data.patience_left == null ? '' : `${T.patience} ${fmtSeconds(mood.data.patience_left)}`;
  }
  const taken = list.filter((e) => e.type === 'monitor.takeover').pop();
  if (taken) $('mon-agent').textContent = taken.data.agent_name;
}

if ($('coach-send')) {
  $('coach-send').addEventListener('click', async () => {
    const text = $('coach-text').value.trim();
    if (!text) return;
    const res = await emit('coach', { contact_id: contactId, text });
    if (!res.ok) { showError(res.error); return; }
    showError('');
    $('coach-text').value = '';
    events.set(res.event.seq, res.event);
    render();
  });
}

if ($('take-over')) {
  $('take-over').addEventListener('click', async () => {
    const res = await emit('take_over', { contact_id: contactId });
    if (!res.ok) { showError(res.error); return; }
    window.location.href = '/desk';
  });
}

window.addEventListener('pagehide', () => { socket.emit('unwatch', { contact_id: contactId }); });
window.kefuMonitor = { socket, events, emit };
