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

function mail(ev) {
  const d = ev.data || {};
  const inbound = ev.type !== 'email.sent';
  const from = d.from || {};
  const who = inbound ? `${from.name || ''} <${from.address || ''}>` : T.you;
  const atts = (d.attachments || []).length;
  return el('article', { class: `mail ${inbound ? 'inbound' : 'outbound'}`, dataset: { eventId: ev.id } },
    el('header', {},
      el('strong', { class: 'mail-subject' }, d.subject || T.noSubject),
      el('div', { class: 'muted small' }, `${inbound ? T.from : T.sent}: ${who} · ${when(ev.ts)}`,
        ev.type === 'email.auto_received' ? ` · ${T.autoReply}` : '',
        atts ? ` · ${atts} ${T.attachments}` : '')),
    el('pre', { class: 'mail-text' }, ev.text || ''));
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
