// The theory-exam page: autosave each answer as it changes, count down on the sandbox clock, submit at zero.
import { api } from './common.js';

const config = JSON.parse(document.getElementById('theory-config').textContent);
const form = document.getElementById('theory-exam');
const statusEl = document.getElementById('theory-status');
const answeredEl = document.getElementById('theory-answered');
const countdownEl = document.getElementById('theory-countdown');
let submitting = false;

function answerOf(fieldset) {
  const kind = fieldset.dataset.kind;
  const checked = [...fieldset.querySelectorAll('input:checked')].map((i) => i.value);
  if (kind === 'multiple') return checked;
  if (!checked.length) return null;
  if (kind === 'true_false') return checked[0] === 'true';
  return checked[0];
}

form.addEventListener('change', async (ev) => {
  const fieldset = ev.target.closest('fieldset[data-qid]');
  if (!fieldset) return;
  statusEl.textContent = config.i18n.saving;
  try {
    const res = await api('POST', config.answerUrl, { question_id: fieldset.dataset.qid, answer: answerOf(fieldset) });
    answeredEl.textContent = res.answered;
    statusEl.textContent = config.i18n.saved;
  } catch (err) {
    statusEl.textContent = err.message;
    statusEl.classList.add('error');
    if (err.status === 409) submitNow();
  }
});

function submitNow() {
  if (submitting) return;
  submitting = true;
  form.submit();
}

// The server says how many sandbox seconds are left; the sandbox clock may run faster than the wall clock.
const started = performance.now();
function tick() {
  const left = config.remaining - ((performance.now() - started) / 1000) * config.speed;
  if (left <= 0) {
    countdownEl.textContent = '00:00';
    statusEl.textContent = config.i18n.timeUp;
    submitNow();
    return;
  }
  const s = Math.floor(left);
  countdownEl.textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  setTimeout(tick, 500);
}
form.addEventListener('submit', () => { submitting = true; });
tick();
