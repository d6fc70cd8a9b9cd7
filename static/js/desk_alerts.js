// Arrival alerts on the desk: a chime for new conversations and messages, a ring that repeats while a call is
// unanswered, the unread count in the page title, and a desktop notification (asked for when the agent goes
// available, a user gesture) when the desk is not in front. The sound can be switched off; the choice is kept.

const KEY = 'kefu.desk.sound';
let audio = null;
let ringTimer = null;
const baseTitle = document.title;

export function soundOn() { return localStorage.getItem(KEY) !== 'off'; }

export function setSound(on) {
  localStorage.setItem(KEY, on ? 'on' : 'off');
  unlock();
}

// Browsers let a page play sound only after a user gesture: the first click on the desk opens the context.
export function unlock() {
  if (!audio && (window.AudioContext || window.webkitAudioContext)) {
    try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { audio = null; }
  }
  if (audio && audio.state === 'suspended') audio.resume().catch(() => {});
}

function tone(freq, start, length, gain = 0.12) {
  if (!audio || !soundOn()) return;
  const osc = audio.createOscillator();
  const g = audio.createGain();
  osc.type = 'sine';
  osc.frequency.value = freq;
  g.gain.setValueAtTime(0, audio.currentTime + start);
  g.gain.linearRampToValueAtTime(gain, audio.currentTime + start + 0.02);
  g.gain.linearRampToValueAtTime(0, audio.currentTime + start + length);
  osc.connect(g).connect(audio.destination);
  osc.start(audio.currentTime + start);
  osc.stop(audio.currentTime + start + length + 0.05);
}

export const played = []; // what the desk played, for tests: 'chime' | 'message' | 'ring'

export function chime(kind = 'chime') {
  played.push(kind);
  if (kind === 'message') { tone(880, 0, 0.15); return; }
  tone(660, 0, 0.18);
  tone(990, 0.2, 0.25);
}

function ringOnce() {
  played.push('ring');
  for (let i = 0; i < 4; i += 1) tone(i % 2 ? 440 : 480, i * 0.25, 0.22, 0.15);
}

// Ring every 3 s while ``stillRinging()`` says so.
export function ring(stillRinging) {
  if (ringTimer) return;
  ringOnce();
  ringTimer = setInterval(() => {
    if (!stillRinging()) { clearInterval(ringTimer); ringTimer = null; return; }
    ringOnce();
  }, 3000);
}

export function stopRinging() {
  if (ringTimer) { clearInterval(ringTimer); ringTimer = null; }
}

export function setTitle(unread, ringing, ringingLabel) {
  const parts = [];
  if (ringing) parts.push(`☎ ${ringingLabel}`);
  if (unread) parts.push(`(${unread})`);
  document.title = parts.length ? `${parts.join(' ')} ${baseTitle}` : baseTitle;
}

export function askPermission() {
  if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission().catch(() => {});
}

export const notified = []; // titles of desktop notifications shown, for tests

// A desktop notification when the desk is not what the agent is looking at; clicking it brings the desk back.
export function notify(title, body, onClick) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  try {
    const n = new Notification(title, { body, tag: `kefu-${title}-${body}` });
    notified.push(title);
    n.onclick = () => { window.focus(); if (onClick) onClick(); n.close(); };
  } catch (e) { /* some browsers allow notifications only from a service worker */ }
}
