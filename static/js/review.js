// Review page: clicking an evidence quote scrolls to the event it cites (by seq) in the transcript and the
// timeline and highlights it. Events with no chat bubble (ticket actions, state changes) are in the timeline.

// On a call, the recording seeks to the cited event's moment (the event's time minus the recording's start).
function seekRecording(seq) {
  const audio = document.getElementById('recording-audio');
  const row = document.getElementById(`tl-${seq}`);
  if (!audio || !row || !row.dataset.ts) return;
  const at = Number(row.dataset.ts) - Number(audio.dataset.startedAt);
  if (Number.isFinite(at)) audio.currentTime = Math.max(0, at);
}

function highlight(seq) {
  document.querySelectorAll('.highlight').forEach((n) => n.classList.remove('highlight'));
  const targets = [document.getElementById(`ev-${seq}`), document.getElementById(`tl-${seq}`)].filter(Boolean);
  targets.forEach((n) => {
    n.classList.add('highlight');
    n.scrollIntoView({ behavior: 'smooth', block: 'center' });
  });
  return targets.length > 0;
}

document.addEventListener('click', (ev) => {
  const link = ev.target.closest('a.evidence-link');
  if (!link) return;
  ev.preventDefault();
  if (highlight(link.dataset.seq)) history.replaceState(null, '', `#ev-${link.dataset.seq}`);
  seekRecording(link.dataset.seq);
});

const m = /^#ev-(\d+)$/.exec(window.location.hash);
if (m) highlight(m[1]);

// A panel submission cannot be taken back: point at unscored items before it goes (the server checks too).
const submit = document.getElementById('manual-submit');
if (submit) {
  submit.addEventListener('click', (ev) => {
    const form = submit.form;
    const missing = [...form.querySelectorAll('fieldset.manual-item')].filter((fs) => {
      const radios = fs.querySelectorAll('input[type=radio]');
      if (radios.length) return ![...radios].some((r) => r.checked);
      const sel = fs.querySelector('select');
      return sel && !sel.value;
    });
    if (missing.length) {
      ev.preventDefault();
      missing.forEach((fs) => fs.classList.add('highlight'));
      missing[0].scrollIntoView({ block: 'center' });
    }
  });
}
