// The email workspace: the agent's email contacts, the thread, a plain-text reply with KB insertion, wrap-up.
// Customer HTML (already sanitised by the server, remote images removed) is shown only inside a sandboxed iframe
// with no scripts; "Load images" swaps it for the server's copy with images, a document whose own policy lets
// only images load. Each contact keeps its own draft, and the status lines, ticket subject and wrap-up notes
// are reset when another contact is opened, so nothing typed for one customer is sent to another.
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
      `${c.customer_name || '-'} · ${c.subject || ''}`), ' ', el('span', { class: 'muted' }, (L.statuses || {})[c.status] || c.status))));
  $('email-list-empty').hidden = data.contacts.length > 0;
  if (current && !data.contacts.some((c) => c.id === current)) current = null;
}

function htmlView(ev, d) {
  const frame = el('iframe', { sandbox: '', class: 'mail-html', title: d.subject || 'email', referrerpolicy: 'no-referrer' });
  frame.srcdoc = d.html;
  if (!d.remote_images) return [frame];
  const load = el('button', { type: 'button', class: 'load-images' }, L.load_images);
  const bar = el('p', { class: 'muted images-bar' }, `${L.images_blocked.replace('{n}', d.remote_images)} `, load);
  load.addEventListener('click', () => {
    frame.removeAttribute('srcdoc');
    frame.src = `/api/email/contacts/${ev.contact_id}/mail/${ev.id}/with-images`;
    bar.replaceChildren(L.images_loaded);
  });
  return [bar, frame];
}

function mailView(ev) {
  const d = ev.data || {};
  const inbound = ev.type !== 'email.sent';
  const who = inbound ? `${L.customer}: ${d.from?.name || ''} <${d.from?.address || ''}>` : `${L.agent}: ${d.from?.address || ''}`;
  const kind = ev.type === 'email.auto_received' ? 'inbound auto' : (inbound ? 'inbound' : 'outbound');
  const box = el('article', { class: `mail ${kind}`, dataset: { eventId: ev.id } },
    el('header', {}, el('strong', {}, d.subject || ''), el('div', { class: 'muted' }, `${who} · ${fmtTime(ev.ts)}`)));
  if (d.automatic) box.append(el('p', { class: 'warn mail-flag' }, `${L.automatic}: ${d.automatic}`));
  if (d.thread_refused) box.append(el('p', { class: 'warn mail-flag thread-refused' }, L.thread_refused));
  if (d.html && inbound) box.append(...htmlView(ev, d));
  else box.append(el('pre', { class: 'mail-text' }, ev.text || ''));
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

// Drafts per contact: what was typed for one customer stays with that customer.
const drafts = new Map();

function saveDraft() {
  if (current === null) return;
  drafts.set(current, { text: $('reply-body').value, html: $('reply-rich').innerHTML, rich: $('rich-toggle').checked,
    ticketSubject: $('ticket-subject').value, wrapNotes: $('wrap-notes').value });
}

function showDraft(id, contact) {
  const draft = drafts.get(id) || { text: '', html: '', rich: false, ticketSubject: contact.subject || '', wrapNotes: '' };
  $('reply-body').value = draft.text;
  $('reply-rich').innerHTML = draft.html; // the agent's own editor content, never customer HTML
  $('rich-toggle').checked = draft.rich;
  $('reply-rich').hidden = !draft.rich;
  $('rich-tools').hidden = !draft.rich;
  $('reply-body').hidden = draft.rich;
  $('ticket-subject').value = draft.ticketSubject;
  $('wrap-notes').value = draft.wrapNotes;
  for (const id of ['reply-status', 'format-result', 'ticket-status', 'wrap-status']) $(id).replaceChildren();
}

async function openThread(id) {
  const switching = id !== current;
  if (switching) saveDraft();
  current = id;
  const data = await api('GET', `/api/email/contacts/${id}/thread`);
  if (current !== id) return; // another contact was opened meanwhile
  if (switching) showDraft(id, data.contact);
  $('thread-subject').textContent = data.contact.subject || '';
  $('thread-tickets').textContent = data.tickets.length ? `${L.tickets}: ${data.tickets.map((t) => `${t.number} (${(L.ticketStatuses || {})[t.status] || t.status})`).join(', ')}` : '';
  const mails = data.events.filter((e) => e.type.startsWith('email.'));
  $('thread').replaceChildren(...mails.map(mailView));
  const customer = mails.find((e) => e.type === 'email.received');
  $('reply-to').textContent = customer ? `${L.reply_to}: ${customer.data.from?.name || ''} <${customer.data.from?.address || ''}>` : '';
  const active = data.contact.status === 'active';
  $('reply-card').hidden = !active;
  $('ticket-card').hidden = !active;
  $('wrap-card').hidden = !['active', 'wrap_up'].includes(data.contact.status);
  loadList();
}

const unacked = new Map(); // contact id -> the reply on its way: its text and client_id
const replyId = () => `r-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

$('send-reply').addEventListener('click', async () => {
  if (!current) return;
  const id = current; // the reply goes to this contact, whatever is opened while it is on its way
  $('reply-status').textContent = '';
  try {
    const rich = $('rich-toggle').checked;
    // Rich text: the editor's HTML goes as the alternative part (the server sanitises it) with its plain text.
    const body = rich ? { body_text: $('reply-rich').innerText, html: $('reply-rich').innerHTML }
      : { body_text: $('reply-body').value };
    // One id per reply, kept until it is acknowledged: sending the same text again after an error (the server may
    // have recorded it before its answer was lost) is recorded once; an edited text is a new reply.
    const sending = unacked.get(id);
    body.client_id = sending && sending.text === body.body_text ? sending.clientId : replyId();
    unacked.set(id, { text: body.body_text, clientId: body.client_id });
    const res = await api('POST', `/api/email/contacts/${id}/reply`, body);
    unacked.delete(id);
    drafts.delete(id);
    if (current !== id) return;
    $('reply-body').value = '';
    $('reply-rich').replaceChildren();
    $('reply-status').textContent = L.sent;
    $('format-result').replaceChildren(formatView(res.event.data.format));
    openThread(id);
  } catch (e) {
    if (current === id) $('reply-status').textContent = e.message;
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
  const id = current;
  try {
    const res = await api('POST', '/api/tickets', { contact_id: id, subject: $('ticket-subject').value,
      category: $('ticket-category').value, priority: $('ticket-priority').value });
    if (current !== id) return;
    $('ticket-status').textContent = `${L.created} ${res.number || ''}`;
    openThread(id);
  } catch (e) {
    if (current === id) $('ticket-status').textContent = e.message;
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
  const id = current;
  try {
    await api('POST', `/api/email/contacts/${id}/wrap_up`, { code: $('wrap-code').value, notes: $('wrap-notes').value });
    drafts.delete(id);
    // The wrap-up's own live event may have refreshed the list first (current is then null): still this contact.
    if (current !== id && current !== null) { loadList(); return; }
    showDraft(null, {});
    $('wrap-status').textContent = L.wrapped;
    current = null;
    $('thread').replaceChildren();
    for (const el_ of ['thread-subject', 'thread-tickets', 'reply-to']) $(el_).textContent = '';
    $('reply-card').hidden = true;
    $('ticket-card').hidden = true;
    $('wrap-card').hidden = true;
    loadList();
  } catch (e) {
    if (current === id || current === null) $('wrap-status').textContent = e.message;
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
const THREAD_EVENTS = new Set(['email.received', 'email.auto_received', 'email.sent', 'email.relayed', 'email.relay_failed',
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
    $('agent-state').textContent = res && res.ok ? (L.agentStates || {})[res.agent.state] || res.agent.state : (res && res.error) || '';
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
// Opened from the desk's email pane (/desk/email?contact=ID): that thread at once.
const wanted = Number(new URLSearchParams(window.location.search).get('contact'));
if (wanted) openThread(wanted);
setInterval(() => { if (!socket.connected) loadList(); }, 15000);
