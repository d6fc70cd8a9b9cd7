// The role-play caller's page: dial, send the offer after ICE gathering, follow the call's state, hang up.
import { readConfig } from './common.js';
import { MicrophoneError, acceptAnswer, openMicrophone, startPeer, stopPeer, stopStream } from './webrtc_call.js';

const cfg = readConfig('caller-config');
const T = cfg.i18n;
const $ = (id) => document.getElementById(id);
const socket = io('/voice', { transports: ['websocket', 'polling'] });
let call = null; // {contact_id, token}
let peer = null;
let stream = null;

function emit(event, data) {
  return new Promise((resolve) => socket.timeout(30000).emit(event, data, (err, res) => resolve(err ? { ok: false, error: 'timeout' } : res)));
}
function status(text) { $('caller-status').textContent = text; }
function error(text) { $('caller-error').textContent = text; $('caller-error').hidden = !text; }

function ended() {
  status(T.ended);
  $('caller-hang-up').disabled = true;
  stopPeer(peer); peer = null;
  stopStream(stream); stream = null;
}

socket.on('disconnect', () => error(T.reconnecting));
socket.on('connect', () => error(''));
socket.on('event', (msg) => {
  if (msg.type !== 'call_state' || !call || msg.contact_id !== call.contact_id) return;
  switch (msg.event) {
    case 'call.connected': if (msg.data.leg === 'agent') status(T.connected); break;
    case 'call.held': status(msg.data.reason === 'transfer' ? T.transferred : T.held); break;
    case 'call.resumed': status(T.resumed); break;
    case 'call.connect_failed': if (msg.data.leg === 'customer') error(T.failed.replace('__REASON__', msg.data.reason)); break;
    case 'call.ended': ended(); break;
    default: break;
  }
});

$('dial-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  error('');
  try {
    stream = await openMicrophone(T);
  } catch (err) {
    error(err instanceof MicrophoneError ? err.message : String(err));
    return;
  }
  const res = await emit('dial', { name: $('caller-name').value, queue: $('caller-queue').value, lang: cfg.lang });
  if (!res.ok) { error(res.error); stopStream(stream); return; }
  call = { contact_id: res.contact_id, token: res.token };
  $('dial-form').hidden = true;
  $('in-call').hidden = false;
  status(T.calling);
  peer = await startPeer(stream, $('caller-audio'), (state) => { if (state === 'failed') error(T.failed.replace('__REASON__', state)); });
  const ans = await emit('caller_offer', { ...call, sdp: peer.offer });
  if (!ans.ok) { error(ans.error); return; }
  await acceptAnswer(peer.pc, ans.sdp);
});

$('caller-hang-up').addEventListener('click', async () => {
  if (!call) return;
  const res = await emit('caller_hang_up', call);
  if (!res.ok) { error(res.error); return; }
  ended();
});
