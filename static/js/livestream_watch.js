// The viewer's page (staff or guest link): the video over WebRTC (receive only) and the live chat.
// When the presenter drops the page says so and watches again as soon as they are back.
import { el, readConfig } from './common.js';
import { Feed, ask, connect, showError } from './livestream_feed.js';

const cfg = readConfig('livestream-config');
const T = cfg.i18n;
const $ = (id) => document.getElementById(id);
const socket = connect(cfg);
const sid = cfg.streamId;
const feed = new Feed(cfg, $('ls-feed'), $('ls-pinned'), null);
let pc = null;
let ended = false;
let retry = null;

function status(text, state) {
  $('ls-status').textContent = text;
  if (state) $('ls-state').textContent = state;
}

function iceComplete(peer) {
  if (peer.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (peer.iceGatheringState === 'complete') resolve(); };
    peer.addEventListener('icegatheringstatechange', check);
    setTimeout(resolve, 3000);
  });
}

async function watch() {
  clearTimeout(retry);
  if (ended) return;
  if (pc) pc.close();
  pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const media = new MediaStream();
  $('ls-video').srcObject = media;
  pc.addEventListener('track', (e) => media.addTrack(e.track));
  // The media worker serving this viewer may stop: when the connection drops and does not come back within
  // two seconds, watch again (the server places the viewer on a worker that is alive).
  const mine = pc;
  mine.addEventListener('connectionstatechange', () => {
    if (!['failed', 'disconnected'].includes(mine.connectionState)) return;
    clearTimeout(retry);
    retry = setTimeout(() => { if (!ended && pc === mine && mine.connectionState !== 'connected') watch(); }, 2000);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  const res = await ask(socket, 'watch', { stream_id: sid, offer: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
  if (!res.ok) {
    status(res.error === 'timeout' ? T.reconnecting : T.waiting, T.offline);
    retry = setTimeout(watch, 3000); // not live yet: try again shortly
    return;
  }
  await pc.setRemoteDescription(res.answer);
  status('', T.live);
}

function finish() {
  ended = true;
  if (pc) pc.close();
  pc = null;
  status(T.ended, T.ended);
  $('ls-send').disabled = true;
}

async function send() {
  const text = $('ls-comment').value.trim();
  if (!text) return;
  const res = await ask(socket, 'comment', { stream_id: sid, text });
  showError($('ls-error'), res.ok ? '' : res.error);
  if (res.ok) $('ls-comment').value = '';
}

function privateChat(msg) {
  const box = $('ls-private');
  box.hidden = false;
  const open = () => {
    sessionStorage.setItem('kefu.customer.chat', JSON.stringify({ contact_id: msg.chat_contact_id, token: msg.token }));
    window.open(msg.link, '_blank');
  };
  box.replaceChildren(el('p', {}, T.privateChat), el('button', { class: 'primary', id: 'ls-open-chat', onclick: open }, T.openChat));
}

socket.on('connect', async () => {
  const res = await ask(socket, 'join', { stream_id: sid });
  if (!res.ok) { showError($('ls-error'), res.error); return; }
  showError($('ls-error'), '');
  feed.replay(res.feed);
  if (res.stream.status !== 'active') { finish(); return; }
  if (!pc || pc.connectionState !== 'connected') watch();
});
socket.on('disconnect', () => status(T.reconnecting));
socket.on('event', (msg) => {
  if (msg.type === 'livestream_comments' && msg.stream_id === sid) feed.comments(msg.comments);
  else if (msg.type === 'livestream_private' && msg.stream_id === sid) privateChat(msg);
  else if (msg.type === 'contact_event' && msg.event.contact_id === sid) {
    const ev = msg.event;
    feed.event(ev);
    if (ev.type === 'livestream.publisher_dropped' && !ended) { status(T.dropped, T.offline); if (pc) pc.close(); pc = null; }
    if (ev.type === 'livestream.publishing' && ev.data.kind === 'video') retry = setTimeout(watch, 500);
    if (ev.type === 'contact.ended') finish();
  }
});
// peer(): the receiving connection, for its getStats() (the browser tests read what audio and video arrived).
window.kefuLive = { socket, ask: (event, data) => ask(socket, event, { stream_id: sid, ...data }), peer: () => pc };
$('ls-send').addEventListener('click', send);
$('ls-comment').addEventListener('keydown', (e) => { if (e.key === 'Enter') send(); });
