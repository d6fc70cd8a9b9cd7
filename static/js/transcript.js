// Live transcript: while a contact is open, poll for new events and append them (leads watching the floor).
import { api, el } from './common.js';

const table = document.getElementById('transcript');
if (table && table.dataset.live === '1') {
  const body = table.querySelector('tbody');
  const id = table.dataset.contactId;
  const lastSeq = () => { const rows = body.querySelectorAll('tr[data-seq]'); return rows.length ? Number(rows[rows.length - 1].dataset.seq) : 0; };
  const start = Number(body.querySelector('td.ts')?.dataset.ts || 0);
  setInterval(async () => {
    try {
      const data = await api('GET', `/api/contacts/${id}/events?after_seq=${lastSeq()}`);
      for (const e of data.events) {
        body.append(el('tr', { class: `ev ev-${e.type.replace('.', '-')} actor-${e.actor}`, dataset: { seq: e.seq } },
          el('td', {}, e.seq), el('td', {}, `${(e.ts - start).toFixed(1)}s`), el('td', {}, e.actor), el('td', {}, e.type),
          el('td', {}, e.text ? el('div', { class: 'text' }, e.text) : '', Object.keys(e.data || {}).length ? el('code', {}, JSON.stringify(e.data)) : '')));
      }
    } catch (err) { /* keep polling */ }
  }, 2000);
}
