// The video call on the desk: answer with camera and microphone (voice-only when the camera is refused or
// missing, with a clear message), the customer's video, the trainee's self-view with the server's live hints,
// call controls, transfer and quick phrases on the /voice namespace, and the identity-check decision. The
// customer's video is the simulated customer's rendered camera or a role-play customer's own, relayed.
// desk.js tells us which contact is shown (the 'kefu:contact-selected' event); contact events arrive on its
// /desk socket (window.kefuDesk.socket).
import { api, readConfig } from './common.js';

const T = readConfig('video-config').i18n;
const $ = (id) => document.getElementById(id);
const GATHER_TIMEOUT_MS = 5000;

const call = { contact: null, pc: null, stream: null, held: false, muted: false, video: false };
const voice = io('/voice', { transports: ['websocket', 'polling'] });

function emit(event, data) {
  return new Promise((resolve) => voice.timeout(15000).emit(event, data, (err, res) => {
    resolve(err ? { ok: false, error: 'timeout' } : res);
  }));
}

function status(text) { $('video-status').textContent = text || ''; }
// The bar always says the call's present state: on hold wins over muted, and back to connected after both.
function callLabel() { return call.held ? T.held : call.muted ? (T.muted || T.connected) : T.connected; }
function error(text) { $('video-error').textContent = text || ''; $('video-error').hidden = !text; }

// About the customer's side (a role-play customer without a camera): kept while the call is shown.
function customerNote(text) { $('video-customer-note').textContent = text || ''; $('video-customer-note').hidden = !text; }

function showHint(hint) {
  const p = $('video-hint');
  p.dataset.hint = hint || '';
  p.textContent = hint ? T.hints[hint] || hint : '';
}

function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('icegatheringstatechange', check); clearTimeout(timer); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, GATHER_TIMEOUT_MS); // candidates found so far suffice
    pc.addEventListener('icegatheringstatechange', check);
  });
}

// Camera and microphone; without the camera, the microphone alone (voice-only), saying why.
async function openMedia() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.RTCPeerConnection) throw new Error(T.noMedia);
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } }), video: true };
  } catch (e) {
    const reason = e && (e.name === 'NotAllowedError' || e.name === 'SecurityError') ? 'permission_denied'
      : e && e.name === 'NotFoundError' ? 'no_device' : e && e.name === 'NotReadableError' ? 'in_use' : 'other';
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (e2) {
      throw new Error(T.micDenied);
    }
    error(reason === 'permission_denied' ? T.cameraDenied : T.noCamera);
    api('POST', `/api/video/contacts/${call.contact.id}/camera-unavailable`, { reason, detail: (e && e.name) || '' }).catch(() => {});
    return { stream, video: false };
  }
}

async function answer() {
  if (!call.contact) return;
  error('');
  status(T.connecting);
  hangUpLocal();
  try {
    const { stream, video } = await openMedia();
    call.stream = stream;
    call.video = video;
    $('video-self').srcObject = video ? stream : null;
    const pc = new RTCPeerConnection({ iceServers: [] });
    call.pc = pc;
    stream.getTracks().forEach((t) => pc.addTrack(t, stream));
    if (!video) pc.addTransceiver('video', { direction: 'recvonly' }); // still see the customer
    const remote = new MediaStream();
    pc.addEventListener('track', (ev) => {
      remote.addTrack(ev.track);
      $('video-customer').srcObject = remote;
      $('video-customer').play().catch(() => {});
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc !== call.pc) return;
      if (pc.connectionState === 'connected') status(T.connected);
      else if (pc.connectionState === 'failed') { status(''); error(T.failed); }
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    const res = await emit('answer', { contact_id: call.contact.id, sdp: pc.localDescription.sdp });
    if (!res || !res.ok) throw new Error((res && res.error) || 'no answer');
    await pc.setRemoteDescription({ type: 'answer', sdp: res.sdp });
    setControls(true);
  } catch (e) {
    hangUpLocal();
    status('');
    error(e.message);
  }
}

function hangUpLocal() {
  if (call.pc) { try { call.pc.close(); } catch (e) { /* closed */ } }
  if (call.stream) call.stream.getTracks().forEach((t) => t.stop());
  call.pc = null;
  call.stream = null;
  $('video-self').srcObject = null;
  $('video-customer').srcObject = null;
  setControls(false);
}

function setControls(live) {
  $('video-hold').disabled = !live;
  $('video-mute').disabled = !live;
  $('video-hangup').disabled = !live;
  $('video-transfer-go').disabled = !live;
  $('video-answer').disabled = live;
  $('video-phrases').hidden = !live || $('video-phrases').dataset.recognition === '1'; // the customer hears words
  $('video-hold').textContent = call.held ? T.resume : T.hold;
  $('video-mute').textContent = call.muted ? T.unmute : T.mute;
}

async function control(event, extra = {}) {
  const res = await emit(event, { contact_id: call.contact.id, ...extra });
  if (!res || !res.ok) { error((res && res.error) || event); return null; }
  error('');
  return res;
}

$('video-answer').addEventListener('click', answer);
$('video-hangup').addEventListener('click', async () => { if (await control('hang_up')) { hangUpLocal(); status(T.ended); } });
$('video-hold').addEventListener('click', async () => {
  if (await control(call.held ? 'resume' : 'hold')) { call.held = !call.held; setControls(true); status(callLabel()); }
});
$('video-mute').addEventListener('click', async () => {
  if (await control('mute', { muted: !call.muted })) {
    call.muted = !call.muted;
    if (call.stream) call.stream.getAudioTracks().forEach((t) => { t.enabled = !call.muted; });
    setControls(true);
    status(callLabel());
  }
});
// Transfer: the customer waits on hold (their video paused) until the receiver answers the same call.
$('video-transfer-go').addEventListener('click', async () => {
  const res = await control('transfer', {
    target_kind: $('video-transfer-kind').value, target: $('video-transfer-target').value, note: $('video-transfer-note').value,
  });
  if (res) { hangUpLocal(); status(T.transferred); $('video-answer').disabled = true; }
});
document.querySelectorAll('#video-phrases .phrase').forEach((b) => b.addEventListener('click', () => control('quick_phrase', { move: b.dataset.move })));

$('id-check').addEventListener('submit', async (e) => {
  e.preventDefault();
  const picked = document.querySelector('input[name="id-decision"]:checked');
  const reason = $('id-check-reason').value.trim();
  if (!picked) { $('id-check-status').textContent = T.chooseDecision; return; }
  if (picked.value === 'refused' && reason.length < 4) { $('id-check-status').textContent = T.needReason; return; }
  try {
    await api('POST', `/api/video/contacts/${call.contact.id}/id-verification`, { decision: picked.value, reason });
    $('id-check-status').textContent = `${T[picked.value]} · ${T.saved}`;
  } catch (err) { $('id-check-status').textContent = err.message; }
});

if ($('video-practice-start')) {
  $('video-practice-start').addEventListener('click', async () => {
    try {
      await api('POST', '/api/video/practice', { scenario_id: $('video-practice-scenario').value });
      $('video-practice-status').textContent = T.practiceStarted;
    } catch (e) { $('video-practice-status').textContent = e.message; }
  });
}

// Which contact the desk shows: a video contact shows this panel; leaving it keeps the call running.
document.addEventListener('kefu:contact-selected', (ev) => {
  const contact = ev.detail && ev.detail.contact;
  const isVideo = !!(contact && contact.channel === 'video');
  $('video-call').hidden = !isVideo;
  $('conversation').classList.toggle('on-video', isVideo);
  $('id-check').hidden = !isVideo || !['active', 'wrap_up'].includes(contact.status);
  if (!isVideo) return;
  if (!call.contact || call.contact.id !== contact.id) {
    hangUpLocal();
    showHint('');
    status('');
    error('');
    $('id-check-status').textContent = '';
  }
  const entry = window.kefuDesk && window.kefuDesk.state.contacts.get(contact.id);
  customerNote(entry && entry.events.some((e) => e.type === 'video.customer_camera_unavailable') ? T.customerNoCamera : '');
  call.contact = contact;
  $('video-answer').disabled = !!call.pc || contact.status !== 'active';
});

function me() {
  const cfg = document.getElementById('desk-config');
  return cfg ? readConfig('desk-config').me.id : null;
}

function onEvent(msg) {
  if (!msg || msg.type !== 'contact_event' || !call.contact || msg.event.contact_id !== call.contact.id) return;
  const ev = msg.event;
  if (ev.type === 'video.camera_hint') showHint(ev.data.hint);
  else if (ev.type === 'video.customer_camera_unavailable') customerNote(T.customerNoCamera);
  else if (ev.type === 'transfer' && call.pc && ev.data.from_agent_id === me()) { hangUpLocal(); status(T.transferred); }
  else if (ev.type === 'video.id_verification') $('id-check-status').textContent = T[ev.data.decision] || ev.data.decision;
  else if (ev.type === 'call.ended' || ev.type === 'contact.ended') { hangUpLocal(); status(T.ended); $('video-answer').disabled = true; }
  else if (ev.type === 'wrap_up') {
    hangUpLocal();
    call.contact = null;
    $('video-call').hidden = true;
    $('conversation').classList.remove('on-video');
  }
}

// desk.js creates the /desk socket; it is there once its module has run (modules run in order).
function attach() {
  if (window.kefuDesk && window.kefuDesk.socket) window.kefuDesk.socket.on('event', onEvent);
  else setTimeout(attach, 50);
}
attach();
window.kefuVideo = { call, answer }; // for e2e tests and debugging
