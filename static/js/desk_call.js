// The voice call on the desk: answer with the microphone (the offer goes out after ICE gathering completes),
// hold/resume, mute, transfer, hang-up and quick phrases on the /voice namespace; practice calls and due
// callbacks. desk.js says which contact is shown ('kefu:contact-selected'); call events arrive as contact
// events on its /desk socket (window.kefuDesk.socket). After hang-up, desk.js's wrap-up bar is the ACW.
import { api, el, fmtSeconds, readConfig } from './common.js';
import { MicrophoneError, acceptAnswer, openMicrophone, startPeer, stopPeer, stopStream } from './webrtc_call.js';

const T = readConfig('call-config').i18n;
const $ = (id) => document.getElementById(id);
const voice = io('/voice', { transports: ['websocket', 'polling'] });
const call = { contact: null, peer: null, stream: null, held: false, muted: false, answered: false, ended: false, since: null };

function emit(event, data) {
  return new Promise((resolve) => voice.timeout(30000).emit(event, data, (err, res) => resolve(err ? { ok: false, error: 'timeout' } : res)));
}
function status(text) { $('call-status').textContent = text || ''; }
function error(text) { $('call-error').textContent = text || ''; $('call-error').hidden = !text; }

function render() {
  const live = call.contact && call.contact.status === 'active' && !call.ended;
  const up = live && call.answered;
  $('call-answer').disabled = !live;
  $('call-answer').hidden = up && !!call.peer;
  $('call-hold').disabled = !up;
  $('call-mute').disabled = !up;
  $('call-hangup').disabled = !live;
  $('call-transfer-go').disabled = !up;
  document.querySelectorAll('#call-phrases .phrase').forEach((b) => { b.disabled = !up; });
  $('call-hold').textContent = call.held ? T.resume : T.hold;
  $('call-mute').textContent = call.muted ? T.unmute : T.mute;
  if (call.ended) status(T.ended);
  else if (!call.answered) status(live ? T.ringing : '');
  else if (call.held) status(T.held);
  else if (call.muted) status(T.muted);
  else if (call.since) status(T.connected); // resumed or unmuted: never keep the old label
}

function hangUpLocal() {
  stopPeer(call.peer); call.peer = null;
  stopStream(call.stream); call.stream = null;
}

async function select(contact) {
  const onCall = !!contact && contact.channel === 'voice';
  $('conversation').classList.toggle('on-call', onCall); // a call has no chat composer
  if (!onCall) { $('voice-call').hidden = true; return; }
  if (!call.contact || call.contact.id !== contact.id) { hangUpLocal(); call.since = null; }
  call.contact = contact;
  $('voice-call').hidden = false;
  error('');
  const res = await emit('state', { contact_id: contact.id });
  if (res.ok) {
    Object.assign(call, { answered: res.state.answered, held: res.state.held, muted: res.state.muted, ended: res.state.ended });
    call.contact = res.contact;
  }
  render();
}

async function answer() {
  if (!call.contact) return;
  error('');
  hangUpLocal();
  try {
    call.stream = await openMicrophone(T);
  } catch (e) {
    error(e instanceof MicrophoneError ? e.message : String(e));
    return;
  }
  status(T.connecting);
  call.peer = await startPeer(call.stream, $('call-audio'), (state) => {
    if (state === 'connected') { call.since = Date.now(); render(); }
    if (state === 'failed') error(T.failed.replace('__WHY__', state));
  });
  const res = await emit('answer', { contact_id: call.contact.id, sdp: call.peer.offer });
  if (!res.ok) { error(res.error); hangUpLocal(); render(); return; }
  await acceptAnswer(call.peer.pc, res.sdp);
  call.answered = true;
  render();
}

async function control(event, extra = {}) {
  if (!call.contact) return null;
  const res = await emit(event, { contact_id: call.contact.id, ...extra });
  if (!res.ok) error(res.error); else error('');
  return res;
}

function onCallEvent(ev) {
  if (!call.contact || ev.contact_id !== call.contact.id) return; // another contact: shown when selected
  switch (ev.type) {
    case 'call.answered': call.answered = true; break;
    case 'call.connected': if (ev.data.leg === 'agent') { status(T.connected); call.since = call.since || Date.now(); } break;
    case 'call.connect_failed':
      if (ev.data.leg === 'agent') {
        error(T.failed.replace('__WHY__', ev.data.reason === 'timeout' ? T.timeout.replace('__S__', Math.round(ev.data.timeout || 0)) : ev.data.reason));
        hangUpLocal();
        call.answered = false;
      }
      break;
    case 'call.held': call.held = true; break;
    case 'call.resumed': call.held = false; break;
    case 'call.muted': call.muted = true; break;
    case 'call.unmuted': call.muted = false; break;
    case 'call.ended': call.ended = true; hangUpLocal(); break;
    case 'transfer': if (ev.actor_id === readConfig('desk-config').me.id) { status(T.transferred); hangUpLocal(); call.ended = true; } break;
    case 'assignment': call.contact.status = 'active'; break;
    case 'contact.ended': call.contact.status = 'wrap_up'; break;
    default: return;
  }
  render();
}

document.addEventListener('kefu:contact-selected', (e) => select(e.detail.contact));
if (window.kefuDesk) {
  window.kefuDesk.socket.on('event', (msg) => {
    if (msg.type === 'contact_event') onCallEvent(msg.event);
    else if (msg.type === 'callback_due' && msg.callback) addCallback(msg.callback);
  });
}

$('call-answer').addEventListener('click', answer);
$('call-hold').addEventListener('click', () => control(call.held ? 'resume' : 'hold'));
$('call-mute').addEventListener('click', () => control('mute', { muted: !call.muted }));
$('call-hangup').addEventListener('click', async () => {
  const res = await control('hang_up');
  if (res && res.ok) { call.ended = true; hangUpLocal(); render(); }
});
$('call-transfer-go').addEventListener('click', async () => {
  const res = await control('transfer', {
    target_kind: $('call-transfer-kind').value, target: $('call-transfer-target').value, note: $('call-transfer-note').value,
  });
  if (res && res.ok) { hangUpLocal(); call.ended = true; status(T.transferred); render(); }
});
document.querySelectorAll('#call-phrases .phrase').forEach((b) => b.addEventListener('click', async () => {
  const res = await control('quick_phrase', { move: b.dataset.move });
  if (res && res.ok) { b.classList.add('marked'); b.title = T.marked; }
}));

setInterval(() => {
  $('call-timer').textContent = call.since && call.answered && !call.ended ? fmtSeconds((Date.now() - call.since) / 1000) : '';
}, 1000);

// Practice calls and callbacks.
const practice = $('voice-practice-start');
if (practice) {
  practice.addEventListener('click', async () => {
    try {
      await api('POST', '/api/voice/practice', { scenario_id: $('voice-practice-scenario').value });
      $('voice-practice-status').textContent = T.practiceStarted;
    } catch (e) { $('voice-practice-status').textContent = e.message; }
  });
}

function addCallback(cb) {
  const li = el('li', { dataset: { callbackId: cb.id } }, `${cb.note || ''} `,
    el('button', { class: 'call-back', onclick: async () => {
      const res = await emit('call_back', { callback_id: cb.id });
      const status = $('voice-practice-status');
      status.replaceChildren(res.ok ? T.callbackPlaced : res.error);
      if (res.ok && res.answer_url) {
        // No simulated customer: whoever plays the customer answers from this link in their own browser.
        status.append(' ', el('a', { href: res.answer_url, target: '_blank', rel: 'noopener', id: 'callback-answer-link' }, T.customerLink));
      }
      if (res.ok) li.remove();
    } }, T.callBack));
  $('due-callbacks').append(li);
}

render();
