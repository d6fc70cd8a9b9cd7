// The work-item page: collect the kind's inputs into the JSON the server expects, save drafts, upload files,
// submit. The records grid filters and sorts on the page. Text is inserted with textContent only.
import { api, csrfToken } from './common.js';

const config = JSON.parse(document.getElementById('task-config').textContent);
const form = document.getElementById('task-form');
const statusEl = document.getElementById('task-status');

function say(text, error = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', error);
}

function field(name) {
  const node = form.querySelector(`[data-field="${name}"]`);
  return node ? node.value : '';
}

function richHtml() {
  const rich = document.getElementById('rich');
  return rich ? rich.innerHTML : '';
}

function collect() {
  const all = (sel) => [...form.querySelectorAll(sel)];
  switch (config.kind) {
    case 'data_query':
      return { answers: Object.fromEntries(all('[data-answer]').map((i) => [i.dataset.answer, i.value])) };
    case 'data_correction':
      return { rows: Object.fromEntries(all('[data-row]').map((i) => [i.dataset.row, i.value])) };
    case 'spreadsheet':
      return { note: field('note') };
    case 'error_spotting':
      return {
        flags: all('[data-flag]').filter((i) => i.checked).map((i) => i.dataset.flag),
        corrections: Object.fromEntries(all('[data-correct]').filter((i) => i.value.trim()).map((i) => [i.dataset.correct, i.value])),
      };
    case 'qa_evaluation':
      return { scores: Object.fromEntries(all('[data-score]').filter((s) => s.value !== '').map((s) => [s.dataset.score, Number(s.value)])), notes: field('notes') };
    case 'writing':
    case 'report':
      return { html: richHtml() };
    case 'staffing_plan':
      return { agents: all('[data-agents]').map((i) => (i.value === '' ? 0 : Number(i.value))), note: field('note') };
    case 'callback_plan': {
      const rows = all('[data-pos]').map((i) => ({ id: i.dataset.pos, pos: i.value === '' ? 1e9 : Number(i.value) }));
      rows.sort((a, b) => a.pos - b.pos);
      return { order: rows.map((r) => r.id), notes: field('notes') };
    }
    default:
      return {};
  }
}

document.getElementById('task-save').addEventListener('click', async () => {
  say(config.i18n.saving);
  try {
    await api('POST', config.draftUrl, collect());
    say(config.i18n.saved);
  } catch (err) {
    say(`${config.i18n.failed}: ${err.message}`, true);
  }
});

document.getElementById('task-submit').addEventListener('click', async () => {
  if (!window.confirm(config.i18n.confirm)) return;
  say(config.i18n.saving);
  try {
    const res = await api('POST', config.submitUrl, collect());
    window.location.assign(res.result_url);
  } catch (err) {
    say(err.message, true);
  }
});

form.querySelectorAll('[data-cmd]').forEach((b) => b.addEventListener('click', () => {
  document.execCommand(b.dataset.cmd, false, b.dataset.arg || null);
}));

const upload = document.getElementById('upload-form');
if (upload) {
  upload.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = document.getElementById('task-file');
    if (!input.files.length) return;
    const body = new FormData();
    body.append('file', input.files[0]);
    say(config.i18n.saving);
    const res = await fetch(config.fileUrl, { method: 'POST', body, headers: { 'X-CSRFToken': csrfToken(), Accept: 'application/json' }, credentials: 'same-origin' });
    let data = {};
    try { data = await res.json(); } catch (e) { data = { error: `HTTP ${res.status}` }; }
    if (!res.ok) {
      say(data.error || `HTTP ${res.status}`, true);
      return;
    }
    const li = document.createElement('li');
    li.textContent = `${data.file.filename} (${data.file.kind}, ${data.file.size} B)`;
    document.getElementById('task-files').append(li);
    say(config.i18n.uploaded);
  });
}

// The records grid: filter by any text, sort by a column.
const grid = document.getElementById('task-grid');
if (grid) {
  const filter = document.getElementById('grid-filter');
  const count = document.getElementById('grid-count');
  const body = grid.tBodies[0];
  const apply = () => {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const tr of body.rows) {
      const text = tr.textContent.toLowerCase();
      const ok = words.every((w) => text.includes(w));
      tr.hidden = !ok;
      shown += ok ? 1 : 0;
    }
    count.textContent = `${shown} / ${body.rows.length}`;
  };
  filter.addEventListener('input', apply);
  apply();
  grid.querySelectorAll('th').forEach((th, idx) => th.addEventListener('click', () => {
    const asc = th.dataset.sort !== 'asc';
    th.dataset.sort = asc ? 'asc' : 'desc';
    const rows = [...body.rows];
    const key = (tr) => { const t = tr.cells[idx].textContent; const n = Number(t); return t !== '' && !Number.isNaN(n) ? n : t; };
    rows.sort((a, b) => { const x = key(a); const y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); });
    rows.forEach((r) => body.append(r));
  }));
}
