// The console's one-to-many launcher: start a group room or a livestream, then reload the running list.
import { api } from './common.js';

const $ = (id) => document.getElementById(id);

function showError(text) {
  $('sessions-error').textContent = text || '';
  $('sessions-error').hidden = !text;
}

function fillMix() {
  const opt = $('gr-scenario').selectedOptions[0];
  if (!opt) return;
  const mix = JSON.parse(opt.dataset.mix || '{}');
  for (const input of document.querySelectorAll('.gr-mix')) {
    const v = mix[input.dataset.key];
    input.value = v === undefined ? '' : Math.round(v * 100);
  }
}

if ($('gr-scenario')) { $('gr-scenario').addEventListener('change', fillMix); fillMix(); }

if ($('group-form')) $('group-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const mix = {};
  for (const input of document.querySelectorAll('.gr-mix')) if (input.value !== '') mix[input.dataset.key] = Number(input.value);
  try {
    await api('POST', '/api/floor/sessions/group', {
      scenario_id: $('gr-scenario').value, target: $('gr-target').value, audience: Number($('gr-audience').value), mix,
    });
    window.location.reload();
  } catch (err) { showError(err.message); }
});

if ($('live-form')) $('live-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await api('POST', '/api/floor/sessions/livestream', {
      presenter_id: Number($('ls-presenter').value), group_id: $('ls-group').value, title: $('ls-title').value,
      lang: $('ls-lang').value, audience_size: Number($('ls-audience').value), comment_rate: Number($('ls-rate').value),
    });
    window.location.reload();
  } catch (err) { showError(err.message); }
});
