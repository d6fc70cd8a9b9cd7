// A call's transcript beside its recording: clicking (or Enter on) a line seeks the call audio to it, and the
// line being played is marked while the audio plays.
const audio = document.getElementById('recording-audio');
const lines = [...document.querySelectorAll('#call-transcript li.seg')];

function seek(li) {
  if (!audio) return;
  audio.currentTime = Math.max(0, Number(li.dataset.at) - 0.2);
  audio.play().catch(() => {});
}

function mark() {
  const t = audio.currentTime;
  for (const li of lines) {
    li.classList.toggle('playing', t >= Number(li.dataset.at) - 0.2 && t < Number(li.dataset.end) + 0.2);
  }
}

if (audio && lines.length) {
  for (const li of lines) {
    li.addEventListener('click', () => seek(li));
    li.addEventListener('keydown', (e) => { if (e.key === 'Enter') seek(li); });
  }
  audio.addEventListener('timeupdate', mark);
  audio.addEventListener('seeked', mark);
  window.kefuTranscript = { audio, lines }; // for e2e tests
}
