// The presenter's page: camera preview, go live (WebRTC publish after ICE gathering), stop, and the comment
// feed with mark answered / pin / move to a one-to-one chat.
import { readConfig } from './common.js';
import { Feed, ask, connect, showError } from './livestream_feed.js';

const cfg = readConfig('livestream-config');
const T = cfg.i18n;
const $ = (id) => document.getElementById(id);
const socket = connect(cfg);
const sid = cfg.streamId;
let stream = null;
let pc = null;
let ended = false;

const act = async (event, data) => {
  const res = await ask(socket, event, { stream_id: sid, ...data });
  showError($('ls-error'), res.ok ? '' : res.error);
  return res;
};
const feed = new Feed(cfg, $('ls-feed'), $('ls-pinned'), {
  answer: (seq) => act('mark_answered', { comment_seq: seq }),
  pin: (seq) => {
    const text = window.prompt(T.pinPrompt);
    if (text) act('pin', { comment_seq: seq, text });
  },
  move: (seq) => act('move_to_chat', { comment_seq: seq }),
});

function setState(text, live) {
  $('ls-state').textContent = text;
  $('ls-state').classList.toggle('state-available', !!live);
}

async function camera() {
  if (!stream) {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    $('ls-preview').srcObject = stream;
  }
  return stream;
}

function iceComplete(peer) {
  if (peer.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (peer.iceGatheringState === 'complete') { peer.removeEventListener('icegatheringstatechange', check); resolve(); } };
    peer.addEventListener('icegatheringstatechange', check);
    setTimeout(resolve, 3000); // loopback-only hosts: what has gathered by now is enough
  });
}

async function goLive() {
  showError($('ls-error'), '');
  try { await camera(); } catch (e) { showError($('ls-error'), `${T.camError} ${e.message}`); return; }
  if (pc) pc.close();
  pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  setState(T.connecting, false);
  const res = await act('publish', { offer: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
  if (!res.ok) { setState(T.offline, false); return; }
  await pc.setRemoteDescription(res.answer);
  pc.addEventListener('connectionstatechange', () => {
    if (pc && pc.connectionState === 'connected') setState(T.live, true);
    if (pc && ['failed', 'disconnected'].includes(pc.connectionState)) setState(T.offline, false);
  });
}

async function stop() {
  const res = await act('stop', {});
  if (res.ok) finish();
}

function finish() {
  ended = true;
  if (pc) pc.close();
  pc = null;
  if (stream) stream.getTracks().forEach((t) => t.stop());
  setState(T.ended, false);
  $('ls-go-live').disabled = true;
  $('ls-stop').disabled = true;
}

async function sendReply() {
  const text = $('ls-reply').value.trim();
  if (!text) return;
  const res = await act('reply', { text });
  if (res.ok) $('ls-reply').value = '';
}

socket.on('connect', async () => {
  const res = await ask(socket, 'join', { stream_id: sid });
  if (!res.ok) { showError($('ls-error'), res.error); return; }
  feed.replay(res.feed);
  if (res.stream.status !== 'active') finish();
});
socket.on('disconnect', () => showError($('ls-error'), T.reconnecting));
socket.on('event', (msg) => {
  if (msg.type === 'livestream_comments' && msg.stream_id === sid) feed.comments(msg.comments);
  else if (msg.type === 'contact_event' && msg.event.contact_id === sid) {
    feed.event(msg.event);
    if (msg.event.type === 'livestream.publisher_dropped' && !ended) setState(T.offline, false);
    if (msg.event.type === 'contact.ended') finish();
  }
});
setInterval(async () => {
  if (ended || !socket.connected) return;
  const res = await ask(socket, 'stats', { stream_id: sid });
  if (!res.ok) return;
  const parts = [T.watchingVideo.replace('__N__', res.media.viewers)];
  if (res.audience) parts.push(T.inChat.replace('__N__', res.audience));
  $('ls-stats').textContent = parts.join(' · ');
}, 3000);

$('ls-go-live').addEventListener('click', goLive);
$('ls-stop').addEventListener('click', stop);
$('ls-send').addEventListener('click', sendReply);
$('ls-reply').addEventListener('keydown', (e) => { if (e.key === 'Enter') sendReply(); });
window.kefuLive = { socket, ask: (event, data) => ask(socket, event, { stream_id: sid, ...data }) };
camera().catch((e) => showError($('ls-error'), `${T.camError} ${e.message}`));
