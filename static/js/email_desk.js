// The email workspace: the agent's email contacts, the thread, a plain-text reply with KB insertion, wrap-up.
// Customer HTML (already sanitised by the server) is shown only inside a sandboxed iframe with no scripts.
// Live: the page holds the desk's Socket.IO connection (/desk checks the agent role, joins the agent's room and
// the rooms of their open contacts), so new mail, assignments and sent replies show at once; a slow poll
// remains as a safety net when the socket is down.
import { api, el, readConfig } from './common.js';

const cfg = readConfig('email-config');
const L = cfg.labels;
const $ = (id) => document.getElementById(id);
let current = null;

function fmtTime(ts) {
  return new Date(ts * 1000).toLocaleString();
}

function insertAtCursor(text) {
  if ($('rich-toggle').checked) { $('reply-rich').focus(); document.execCommand('insertText', false, text); return; }
  const box = $('reply-body');
  const at = box.selectionStart ?? box.value.length;
  box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd ?? at);
  box.focus();
}

async function loadList() {
  const data = await api('GET', '/api/email/contacts');
  const list = $('email-list');
  list.replaceChildren(...data.contacts.map((c) => el('li', { class: c.id === current ? 'selected' : '' },
    el('a', { href: '#', onclick: (e) => { e.preventDefault(); openThread(c.id); } },
      `${c.customer_name || '-'} · ${c.subject || ''}`), ' ', el('span', { class: 'muted' }, c.status))));
  $('email-list-empty').hidden = data.contacts.length > 0;
  if (current && !data.contacts.some((c) => c.id === current)) current = null;
}

function mailView(ev) {
  const d = ev.data || {};
  const who = ev.type === 'email.received' ? `${L.customer}: ${d.from?.name || ''} <${d.from?.address || ''}>` : `${L.agent}: ${d.from?.address || ''}`;
  const box = el('article', { class: `mail ${ev.type === 'email.sent' ? 'outbound' : 'inbound'}` },
    el('header', {}, el('strong', {}, d.subject || ''), el('div', { class: 'muted' }, `${who} · ${fmtTime(ev.ts)}`)));
  if (d.html && ev.type === 'email.received') {
    const frame = el('iframe', { sandbox: '', class: 'mail-html', title: d.subject || 'email' });
    frame.srcdoc = d.html;
    box.append(frame);
  } else {
    box.append(el('pre', { class: 'mail-text' }, ev.text || ''));
  }
  if ((d.attachments || []).length) {
    box.append(el('p', {}, `${L.attachments}:`), el('ul', {}, ...d.attachments.map((a, i) => el('li', {},
      `${a.name} (${a.type}, ${a.size} B) `,
      a.note ? el('span', { class: 'muted' }, a.note)
        : el('a', { href: `/api/email/contacts/${ev.contact_id}/attachments/${ev.id}/${i}` }, L.download)))));
  }
  if ((d.notes || []).length) box.append(el('p', { class: 'muted' }, `${L.notes}: ${d.notes.join('; ')}`));
  if (d.format) box.append(formatView(d.format));
  return box;
}

function formatView(f) {
  if (!f.missing.length && !f.forbidden.length) return el('p', { class: 'ok' }, L.format_ok);
  return el('p', { class: 'warn' },
    f.missing.length ? `${L.missing}: ${f.missing.join(', ')}. ` : '',
    f.forbidden.length ? `${L.forbidden}: ${f.forbidden.join(', ')}` : '');
}

async function openThread(id) {
  current = id;
  const data = await api('GET', `/api/email/contacts/${id}/thread`);
  $('thread-subject').textContent = data.contact.subject || '';
  $('thread-tickets').textContent = data.tickets.length ? `${L.tickets}: ${data.tickets.map((t) => `${t.number} (${t.status})`).join(', ')}` : '';
  $('thread').replaceChildren(...data.events.filter((e) => e.type.startsWith('email.')).map(mailView));
  const active = data.contact.status === 'active';
  $('reply-card').hidden = !active;
  $('ticket-card').hidden = !active;
  if (!$('ticket-subject').value) $('ticket-subject').value = data.contact.subject || '';
  $('wrap-card').hidden = !['active', 'wrap_up'].includes(data.contact.status);
  loadList();
}

$('send-reply').addEventListener('click', async () => {
  if (!current) return;
  $('reply-status').textContent = '';
  try {
    const rich = $('rich-toggle').checked;
    // Rich text: the editor's HTML goes as the alternative part (the server sanitises it) with its plain text.
    const body = rich ? { body_text: $('reply-rich').innerText, html: $('reply-rich').innerHTML }
      : { body_text: $('reply-body').value };
    const res = await api('POST', `/api/email/contacts/${current}/reply`, body);
    $('reply-body').value = '';
    $('reply-rich').replaceChildren();
    $('reply-status').textContent = L.sent;
    $('format-result').replaceChildren(formatView(res.event.data.format));
    openThread(current);
  } catch (e) {
    $('reply-status').textContent = e.message;
  }
});

$('rich-toggle').addEventListener('change', (e) => {
  const rich = e.target.checked;
  if (rich) $('reply-rich').textContent = $('reply-body').value;
  else $('reply-body').value = $('reply-rich').innerText;
  $('reply-rich').hidden = !rich;
  $('rich-tools').hidden = !rich;
  $('reply-body').hidden = rich;
});
for (const b of document.querySelectorAll('#rich-tools button')) {
  b.addEventListener('click', () => { $('reply-rich').focus(); document.execCommand(b.dataset.cmd); });
}

$('ticket-create').addEventListener('click', async () => {
  if (!current) return;
  try {
    const res = await api('POST', '/api/tickets', { contact_id: current, subject: $('ticket-subject').value,
      category: $('ticket-category').value, priority: $('ticket-priority').value });
    $('ticket-status').textContent = `${L.created} ${res.number || ''}`;
    openThread(current);
  } catch (e) {
    $('ticket-status').textContent = e.message;
  }
});

if ($('practice-start')) {
  $('practice-start').addEventListener('click', async () => {
    try {
      await api('POST', '/api/sim/customers', { scenario_id: $('practice-scenario').value });
      $('practice-status').textContent = L.started;
    } catch (e) {
      $('practice-status').textContent = e.message;
    }
  });
}

$('snippet').addEventListener('change', (e) => {
  const s = cfg.snippets[Number(e.target.value)];
  if (s) insertAtCursor(s.text);
  e.target.value = '';
});

$('wrap-up').addEventListener('click', async () => {
  if (!current) return;
  try {
    await api('POST', `/api/email/contacts/${current}/wrap_up`, { code: $('wrap-code').value, notes: $('wrap-notes').value });
    $('wrap-status').textContent = L.wrapped;
    current = null;
    $('thread').replaceChildren();
    $('reply-card').hidden = true;
    $('wrap-card').hidden = true;
    loadList();
  } catch (e) {
    $('wrap-status').textContent = e.message;
  }
});

$('kb-search').addEventListener('click', async () => {
  const q = $('kb-q').value.trim();
  if (!q) return;
  const params = new URLSearchParams({ q, lang: cfg.lang });
  if (current) params.set('contact_id', current);
  try {
    const data = await api('GET', `/api/kb/search?${params}`);
    $('kb-results').replaceChildren(...(data.results.length ? data.results.map((r) => el('li', {},
      r.title, ' ', el('button', { onclick: () => insertArticle(r.lang || cfg.lang, r.slug) }, L.insert)))
      : [el('li', { class: 'muted' }, L.no_results)]));
  } catch (e) {
    $('kb-results').replaceChildren(el('li', { class: 'warn' }, e.message));
  }
});

async function insertArticle(lang, slug) {
  const params = current ? `?contact_id=${current}` : '';
  const data = await api('GET', `/api/kb/articles/${encodeURIComponent(lang)}/${encodeURIComponent(slug)}${params}`);
  insertAtCursor(`${data.article.body}\n`);
}

// Recorded events that change what the workspace shows.
const THREAD_EVENTS = new Set(['email.received', 'email.sent', 'email.relayed', 'email.relay_failed',
  'ticket.created', 'ticket.linked', 'transfer', 'contact.ended', 'wrap_up']);
const socket = io('/desk', { transports: ['websocket', 'polling'] });
window.kefuEmail = { socket, get current() { return current; } };

socket.on('connect', async () => {
  $('live-status').textContent = L.live;
  loadList();
  if (current) openThread(current);
});
$('go-available').addEventListener('click', () => {
  socket.emit('set_state', { state: 'available' }, (res) => {
    $('agent-state').textContent = res && res.ok ? res.agent.state : (res && res.error) || '';
    $('agent-state').dataset.state = res && res.ok ? res.agent.state : '';
  });
});
socket.on('disconnect', () => { $('live-status').textContent = L.offline; });
socket.on('event', (msg) => {
  if (msg.type !== 'contact_event') return;
  const ev = msg.event;
  if (ev.type === 'assignment' && ev.data && ev.data.agent_id === cfg.me) {
    // A newly routed contact: join its room so its later mail reaches this page too.
    socket.emit('join_contact', { contact_id: ev.contact_id }, () => {});
    loadList();
  } else if (THREAD_EVENTS.has(ev.type)) {
    if (ev.contact_id === current) openThread(current);
    else loadList();
  }
});

loadList();
setInterval(() => { if (!socket.connected) loadList(); }, 15000);
