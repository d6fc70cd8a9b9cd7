// Channel panes of the desk that are not chat or calls. An email contact shows its thread as mail (sender,
// time, subject, body) with a reply editor that posts to the email API (a real MIME reply), never the chat
// composer; a livestream contact points to its presenter console, with no composer, End or wrap-up (the stream
// ends there). desk.js says which contact is shown ('kefu:contact-selected'); new mail arrives as contact events
// on its /desk socket.
import { api, el, readConfig } from './common.js';

const T = readConfig('email-pane-config').i18n;
const $ = (id) => document.getElementById(id);
let shown = null; // the email contact on screen
const drafts = new Map(); // contact id -> unsent reply text

function when(ts) { return new Date(ts * 1000).toLocaleString(); }

function address(a) {
  if (!a) return '';
  if (typeof a === 'string') return a;
  return a.name ? `${a.name} <${a.address || ''}>` : a.address || '';
}

// A plain-text body as a mail client shows it: the new text, then the quoted history ("> " lines, and everything
// from an "On … wrote:" / "在…写道：" line or an "Original Message" rule on) folded away.
const QUOTE_START = /^(On .+wrote:|在.+写道[:：]|-{2,}\s*(Original Message|原始邮件)\s*-{2,}|_{8,})\s*$/;

export function splitQuoted(text) {
  const lines = (text || '').trimEnd().split('\n');
  let at = lines.findIndex((l) => QUOTE_START.test(l.trim()));
  if (at < 0) {
    // only a trailing run of "> " lines (blank lines between them allowed) is history; a quote inside is kept
    at = lines.length;
    while (at > 0 && (/^\s*>/.test(lines[at - 1]) || (!lines[at - 1].trim() && at < lines.length))) at -= 1;
    if (at === lines.length || !lines.slice(at).some((l) => /^\s*>/.test(l))) at = lines.length;
  }
  return { body: lines.slice(0, at).join('\n').trimEnd(), quoted: lines.slice(at).join('\n').trim() };
}

function bodyOf(ev, d, inbound) {
  if (inbound && d.html) {
    // Sanitised by the server (nh3) with remote images removed; the sandbox runs nothing and loads nothing.
    const frame = el('iframe', { sandbox: '', class: 'mail-html', title: d.subject || T.noSubject, referrerpolicy: 'no-referrer' });
    frame.srcdoc = d.html;
    return [frame];
  }
  const { body, quoted } = splitQuoted(ev.text);
  const parts = [el('pre', { class: 'mail-text' }, body)];
  if (quoted) {
    parts.push(el('details', { class: 'mail-quoted' }, el('summary', {}, T.quoted),
      el('blockquote', {}, el('pre', { class: 'mail-text' }, quoted))));
  }
  return parts;
}

function mail(ev) {
  const d = ev.data || {};
  const inbound = ev.type !== 'email.sent';
  const to = [...(d.to || [])].join(', ');
  const cc = [...(d.cc || [])].join(', ');
  const atts = d.attachments || [];
  const head = (label, value, cls) => el('div', { class: `mail-head ${cls}` }, el('span', { class: 'muted' }, `${label}: `), value);
  return el('article', { class: `mail ${inbound ? 'inbound' : 'outbound'}`, dataset: { eventId: ev.id } },
    el('header', {},
      el('strong', { class: 'mail-subject' }, d.subject || T.noSubject),
      head(T.from, inbound ? address(d.from) : `${T.you}${d.from?.address ? ` <${d.from.address}>` : ''}`, 'mail-from'),
      to ? head(T.to, to, 'mail-to') : '',
      cc ? head(T.cc, cc, 'mail-cc') : '',
      head(inbound ? T.received : T.sent, when(ev.ts), 'mail-date'),
      ev.type === 'email.auto_received' ? el('div', { class: 'warn small' }, T.autoReply) : ''),
    ...bodyOf(ev, d, inbound),
    atts.length ? el('p', { class: 'muted small mail-attachments' }, `📎 ${atts.length} ${T.attachments}: `,
      atts.map((a) => a.name).join(', ')) : '');
}

async function loadThread() {
  if (!shown) return;
  const id = shown;
  try {
    const data = await api('GET', `/api/email/contacts/${id}/thread`);
    if (shown !== id) return;
    $('email-thread').replaceChildren(...data.events.map(mail));
  } catch (e) {
    $('email-reply-status').textContent = e.message;
  }
}

function select(contact) {
  const email = !!contact && contact.channel === 'email';
  const live = !!contact && contact.channel === 'livestream';
  if (shown) drafts.set(shown, $('email-reply-body').value);
  $('conversation').classList.toggle('on-email', email);
  $('conversation').classList.toggle('on-livestream', live);
  $('email-pane').hidden = !email;
  $('livestream-pane').hidden = !live;
  if (live) $('livestream-open').href = `/livestream/${contact.id}/present`;
  shown = email ? contact.id : null;
  if (!email) return;
  $('email-reply-body').value = drafts.get(contact.id) || '';
  $('email-reply-body').disabled = contact.status !== 'active';
  $('email-reply-send').disabled = contact.status !== 'active';
  $('email-reply-status').textContent = '';
  $('email-open-workspace').href = `/desk/email?contact=${contact.id}`;
  $('email-thread').replaceChildren();
  loadThread();
}

document.addEventListener('kefu:contact-selected', (e) => select(e.detail.contact));

$('email-reply-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = $('email-reply-body').value.trim();
  if (!shown) return;
  if (!body) { $('email-reply-status').textContent = T.empty; return; }
  $('email-reply-send').disabled = true;
  try {
    await api('POST', `/api/email/contacts/${shown}/reply`, { body_text: body });
    drafts.delete(shown);
    $('email-reply-body').value = '';
    $('email-reply-status').textContent = T.sentOk;
    await loadThread();
  } catch (err) {
    $('email-reply-status').textContent = err.message;
  } finally {
    $('email-reply-send').disabled = false;
  }
});

if (window.kefuDesk) {
  window.kefuDesk.socket.on('event', (msg) => {
    if (msg.type === 'contact_event' && shown && msg.event.contact_id === shown && msg.event.type.startsWith('email.')) loadThread();
  });
}
