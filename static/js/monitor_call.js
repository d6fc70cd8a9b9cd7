// Voice monitoring on the monitor page: the lead's browser joins the call as its own leg (listen, whisper or
// barge) and switches mode without reconnecting. Uses the voice channel's WebRTC helpers.
import { readConfig } from './common.js';
import { acceptAnswer, MicrophoneError, openMicrophone, startPeer, stopPeer, stopStream } from './webrtc_call.js';

const cfg = readConfig('monitor-config');
const T = cfg.i18n;
const $ = (id) => document.getElementById(id);
const contactId = cfg.contact.id;
let peer = null;
let stream = null;
let mode = null;

function waitMonitor() {
  return new Promise((resolve) => {
    const check = () => (window.kefuMonitor ? resolve(window.kefuMonitor) : setTimeout(check, 50));
    check();
  });
}

function showError(text) {
  $('mon-error').textContent = text || '';
  $('mon-error').hidden = !text;
}

function setMode(m) {
  mode = m;
  $('mon-call-mode').textContent = m ? T.modes[m] : '-';
  $('mon-call-mode').dataset.mode = m || '';
  $('mon-hang-up').disabled = !m;
  document.querySelectorAll('#call-monitor button[data-mode]').forEach((b) => b.classList.toggle('on', b.dataset.mode === m));
}

async function choose(m) {
  const { emit } = await waitMonitor();
  showError('');
  if (peer && mode) {
    const res = await emit('monitor_mode', { contact_id: contactId, mode: m });
    if (!res.ok) { showError(res.error); return; }
    setMode(m);
    return;
  }
  try {
    stream = stream || await openMicrophone(T);
  } catch (e) {
    showError(e instanceof MicrophoneError ? e.message : String(e));
    return;
  }
  peer = await startPeer(stream, $('mon-audio'), (state) => {
    $('mon-call-state').textContent = state;
    $('mon-call-state').dataset.state = state;
    if (state === 'failed' || state === 'closed') { stopPeer(peer); peer = null; setMode(null); }
  });
  const res = await emit('monitor_call', { contact_id: contactId, mode: m, sdp: peer.offer });
  if (!res.ok) { showError(res.error); stopPeer(peer); peer = null; return; }
  await acceptAnswer(peer.pc, res.sdp);
  setMode(m);
}

document.querySelectorAll('#call-monitor button[data-mode]').forEach((b) => b.addEventListener('click', () => choose(b.dataset.mode)));

$('mon-hang-up').addEventListener('click', async () => {
  const { emit } = await waitMonitor();
  await emit('monitor_hang_up', { contact_id: contactId });
  stopPeer(peer);
  peer = null;
  stopStream(stream);
  stream = null;
  setMode(null);
});

window.addEventListener('pagehide', () => { if (peer) { stopPeer(peer); } });
window.kefuCallMonitor = { get mode() { return mode; }, get pc() { return peer && peer.pc; } };
