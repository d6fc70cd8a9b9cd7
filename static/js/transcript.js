// Live transcript: while a contact is open, poll for new events and append them (leads watching the floor).
import { api, el } from './common.js';

const table = document.getElementById('transcript');
if (table && table.dataset.live === '1') {
  const body = table.querySelector('tbody');
  const id = table.dataset.contactId;
  const lastSeq = () => { const rows = body.querySelectorAll('tr[data-seq]'); return rows.length ? Number(rows[rows.length - 1].dataset.seq) : 0; };
  const L = JSON.parse(table.dataset.labels || '{}');
  const eventLabel = (type) => (L.events || {})[type] || (L.families || {})[type.split('.')[0]] || L.otherEvent || type;
  const clock = (ts) => new Date(ts * 1000).toLocaleTimeString(document.documentElement.lang || undefined, { hour12: false });
  setInterval(async () => {
    try {
      const data = await api('GET', `/api/contacts/${id}/events?after_seq=${lastSeq()}`);
      for (const e of data.events) {
        const raw = Object.keys(e.data || {}).length
          ? el('details', { class: 'raw' }, el('summary', {}, L.recordedData || ''), el('code', { translate: 'no' }, JSON.stringify(e.data))) : '';
        body.append(el('tr', { class: `ev ev-${e.type.replace('.', '-')} actor-${e.actor}`, dataset: { seq: e.seq } },
          el('td', {}, e.seq), el('td', { class: 'ts nowrap', dataset: { ts: e.ts } }, clock(e.ts)),
          el('td', { class: 'speaker' }, (L.actors || {})[e.actor] || e.actor), el('td', {}, eventLabel(e.type)),
          el('td', { class: 'detail' }, e.text ? el('div', { class: 'text' }, e.text) : '', raw)));
      }
    } catch (err) { /* keep polling */ }
  }, 2000);
}
