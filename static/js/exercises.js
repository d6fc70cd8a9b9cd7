// Exercises: create (a scenario mix with weights, Poisson rate, duration, seed), start and stop.
import { api, readConfig } from './common.js';

const cfg = readConfig('exercise-config');
const $ = (id) => document.getElementById(id);

function fail(e) { $('ex-error').textContent = e.message; $('ex-error').hidden = false; }

$('exercise-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const mix = {};
  document.querySelectorAll('.ex-weight').forEach((w) => { if (Number(w.value) > 0) mix[w.dataset.scenario] = Number(w.value); });
  const body = { name: $('ex-name').value, kind: $('ex-kind').value, lang: cfg.lang, mix,
    rate_per_minute: Number($('ex-rate').value), duration_seconds: Number($('ex-duration').value), seed: Number($('ex-seed').value) };
  if ($('ex-group').value) body.group_id = Number($('ex-group').value);
  try { await api('POST', '/api/exercises', body); window.location.reload(); } catch (err) { fail(err); }
});

document.querySelectorAll('.ex-start, .ex-stop').forEach((b) => b.addEventListener('click', async () => {
  const action = b.classList.contains('ex-start') ? 'start' : 'stop';
  try { await api('POST', `/api/exercises/${b.dataset.id}/${action}`); window.location.reload(); } catch (err) { fail(err); }
}));
