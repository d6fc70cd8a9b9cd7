// Desk side panels: customer profile (CRM), ticket, knowledge base. All calls go to JSON APIs with CSRF.
import { api, el } from './common.js';

const $ = (id) => document.getElementById(id);
const list = (data, ...keys) => { for (const k of keys) if (data && Array.isArray(data[k])) return data[k]; return Array.isArray(data) ? data : []; };

export function initPanels({ cfg, getCurrent, socket }) {
  const T = cfg.i18n;
  let profileId = null;
  let ticket = null;
  let article = null;
  let suggestTimer = null;

  const L = cfg.crm;
  const money = (v) => (typeof v === 'number' ? `¥${v.toLocaleString(cfg.lang === 'en' ? 'en-GB' : 'zh-CN', { minimumFractionDigits: v % 1 ? 2 : 0 })}` : String(v ?? ''));
  function accountValue(key, v) {
    if (key === 'balance') return money(v);
    if (key === 'membership') return L.tiers[v] || String(v);
    if (typeof v === 'boolean') return v ? L.yes : L.no;
    if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${L.fields[k] || k}: ${x}`).join(', ');
    return String(v ?? '');
  }
  const cats = $('ticket-category');
  for (const c of cfg.categories || []) cats.append(el('option', { value: c.code }, cfg.lang === 'zh_CN' ? c.name_zh : c.name_en));

  function showError(where, err) {
    where.replaceChildren(el('p', { class: 'error' }, err.message || String(err)));
  }

  // --- CRM ---
  async function searchCustomers() {
    const q = $('crm-query').value.trim();
    if (!q) return;
    const ul = $('crm-results');
    try {
      const data = await api('GET', `/api/crm/customers?q=${encodeURIComponent(q)}&contact_id=${getCurrent() || ''}`);
      const rows = list(data, 'customers', 'results');
      ul.replaceChildren(...(rows.length ? rows.map((c) => el('li', { class: 'result', dataset: { customerId: c.id },
        onclick: () => openProfile(c.id) }, el('b', {}, c.name), ' ', c.phone || '', c.vip ? el('span', { class: 'tag vip' }, 'VIP') : null))
        : [el('li', { class: 'muted' }, T.noResults)]));
    } catch (e) { showError(ul, e); }
  }

  async function openProfile(id) {
    profileId = id;
    const box = $('crm-profile');
    try {
      const p = await api('GET', `/api/crm/customers/${id}?contact_id=${getCurrent() || ''}`);
      const c = p.customer || p;
      const orders = c.orders || p.orders || [];
      box.replaceChildren(
        el('h3', {}, c.name, c.vip ? el('span', { class: 'tag vip' }, 'VIP') : null, ' ',
          el('span', { class: 'tag', id: 'verified-flag' }, (p.verified || c.verified) ? T.verified : T.masked)),
        el('dl', { class: 'profile' },
          el('dt', {}, L.fields.ref), el('dd', {}, c.ref || ''),
          el('dt', {}, L.fields.phone), el('dd', { id: 'profile-phone' }, c.phone || ''),
          el('dt', {}, L.fields.id_number), el('dd', { id: 'profile-id' }, c.id_number || ''),
          el('dt', {}, L.fields.tier), el('dd', {}, L.tiers[c.tier] || c.tier || ''),
          ...Object.entries(c.accounts || {}).flatMap(([k, v]) => [el('dt', {}, L.fields[k] || L.fields.other), el('dd', {}, accountValue(k, v))])),
        el('h4', {}, T.orders),
        el('ul', { class: 'orders' }, ...orders.map((o) => el('li', {},
          `${o.order_no} · ${o.product} · ${money(o.amount)} · ${L.orderStatus[o.status] || o.status}`))));
      $('verify-row').hidden = !getCurrent();
    } catch (e) { showError(box, e); }
  }

  async function verify(result) {
    if (!profileId || !getCurrent()) return;
    try {
      await api('POST', `/api/crm/customers/${profileId}/verify`, { contact_id: getCurrent(), method: $('verify-method').value, result });
      await openProfile(profileId);
    } catch (e) { alert(e.message); }
  }

  $('crm-search').addEventListener('click', searchCustomers);
  $('crm-query').addEventListener('keydown', (e) => { if (e.key === 'Enter') searchCustomers(); });
  $('verify-ok').addEventListener('click', () => verify('verified'));
  $('verify-fail').addEventListener('click', () => verify('failed'));

  // Stored codes shown by their labels: the select's own option text, the CRM labels of the desk config.
  function optionLabel(selectId, code) {
    const hit = [...$(selectId).options].find((o) => o.value === code);
    return hit ? hit.textContent : code;
  }

  // --- Ticket ---
  function renderTicket() {
    const box = $('ticket-current');
    $('ticket-form').hidden = !!ticket || !getCurrent();
    $('ticket-edit').hidden = !ticket;
    if (!ticket) { box.textContent = ''; return; }
    box.replaceChildren(el('a', { href: `/tickets/${ticket.number}`, target: '_blank', id: 'ticket-number' }, ticket.number), ' ',
      el('span', { class: 'tag' }, optionLabel('ticket-status', ticket.status)), ' ', el('span', { class: 'tag' }, optionLabel('ticket-priority', ticket.priority)), ' ',
      el('span', { class: 'tag' }, optionLabel('ticket-risk', ticket.risk_level)), ' ', ticket.subject);
    $('ticket-status').value = ticket.status;
  }

  async function loadTicket() {
    ticket = null;
    const cid = getCurrent();
    if (cid) {
      try {
        const data = await api('GET', `/api/tickets?contact_id=${cid}`);
        const rows = list(data, 'tickets', 'results');
        ticket = rows.length ? rows[0] : null;
      } catch (e) { /* no tickets panel without a contact */ }
    }
    renderTicket();
  }

  $('ticket-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { contact_id: getCurrent(), subject: $('ticket-subject').value, category: $('ticket-category').value,
      priority: $('ticket-priority').value, risk_level: $('ticket-risk').value, description: $('ticket-description').value };
    if (profileId) body.customer_id = profileId;
    try {
      const data = await api('POST', '/api/tickets', body);
      ticket = data.ticket || data;
      renderTicket();
    } catch (err) { alert(err.message); }
  });

  $('ticket-update').addEventListener('click', async () => {
    if (!ticket) return;
    const changes = { contact_id: getCurrent(), status: $('ticket-status').value };
    if ($('ticket-escalation').value.trim()) changes.escalation_target = $('ticket-escalation').value.trim();
    if ($('ticket-compensation').value !== '') changes.compensation_amount = Number($('ticket-compensation').value);
    try {
      const data = await api('PATCH', `/api/tickets/${ticket.number}`, changes);
      ticket = data.ticket || data;
      renderTicket();
    } catch (err) { alert(err.message); }
  });

  $('ticket-note-add').addEventListener('click', async () => {
    if (!ticket || !$('ticket-note').value.trim()) return;
    try {
      await api('POST', `/api/tickets/${ticket.number}/notes`, { contact_id: getCurrent(), body: $('ticket-note').value });
      $('ticket-note').value = '';
    } catch (err) { alert(err.message); }
  });

  $('callback-go').addEventListener('click', async () => {
    const due = $('callback-due').value;
    if (!due || !getCurrent()) return;
    const body = { contact_id: getCurrent(), due_at: new Date(due).toISOString(), note: $('callback-note').value };
    if (ticket) body.ticket_number = ticket.number;
    if (profileId) body.customer_id = profileId;
    try {
      await api('POST', '/api/callbacks', body);
      $('callback-status').textContent = T.callbackScheduled;
      $('callback-note').value = '';
    } catch (err) { $('callback-status').textContent = err.message; }
  });

  // --- Knowledge base ---
  function renderArticles(ul, rows) {
    ul.replaceChildren(...rows.map((a) => el('li', { class: 'result', dataset: { slug: a.slug }, onclick: () => openArticle(a.slug) },
      el('b', {}, a.title), a.snippet ? el('div', { class: 'muted' }, a.snippet) : null)));
  }

  async function searchKb() {
    const q = $('kb-query').value.trim();
    if (!q) return;
    try {
      const data = await api('GET', `/api/kb/search?q=${encodeURIComponent(q)}&lang=${cfg.lang}&contact_id=${getCurrent() || ''}`);
      const rows = list(data, 'results', 'articles');
      $('kb-results-head').hidden = false;
      if (rows.length) renderArticles($('kb-results'), rows);
      else $('kb-results').replaceChildren(el('li', { class: 'muted' }, T.noResults));
    } catch (e) { showError($('kb-results'), e); }
  }

  async function openArticle(slug) {
    try {
      const data = await api('GET', `/api/kb/articles/${cfg.lang}/${encodeURIComponent(slug)}?contact_id=${getCurrent() || ''}`);
      article = data.article || data;
      $('kb-article-title').textContent = article.title;
      $('kb-article-body').textContent = article.body;
      // Only the customer-facing part goes to the customer, and only as the agent edits it here.
      $('kb-customer-text').value = article.customer_text || '';
      $('kb-no-customer').hidden = !!article.customer_text;
      $('kb-send-error').hidden = true;
      $('kb-article').hidden = false;
    } catch (e) { alert(e.message); }
  }

  async function suggest() {
    const cid = getCurrent();
    if (!cid) { $('kb-suggestions').replaceChildren(); return; }
    try {
      const data = await api('GET', `/api/kb/suggest?contact_id=${cid}`);
      renderArticles($('kb-suggestions'), list(data, 'suggestions', 'results').slice(0, 5));
    } catch (e) { $('kb-suggestions').replaceChildren(); }
  }

  $('kb-search').addEventListener('click', searchKb);
  $('kb-query').addEventListener('keydown', (e) => { if (e.key === 'Enter') searchKb(); });
  $('kb-send').addEventListener('click', () => {
    if (!article || !getCurrent()) return;
    const text = $('kb-customer-text').value.trim();
    const fail = (msg) => { $('kb-send-error').textContent = msg; $('kb-send-error').hidden = false; };
    if (!text) { fail(T.kbWriteFirst); return; }
    socket.timeout(10000).emit('send_article', { contact_id: getCurrent(), slug: article.slug, text }, (err, res) => {
      if (err || !res.ok) fail(err ? 'timeout' : res.error);
      else $('kb-send-error').hidden = true;
    });
  });

  return {
    contactChanged(contact) {
      profileId = null;
      $('crm-profile').replaceChildren();
      $('crm-results').replaceChildren();
      $('verify-row').hidden = true;
      $('kb-article').hidden = true;
      if (contact && contact.customer_id) openProfile(contact.customer_id);
      loadTicket();
      suggest();
    },
    customerSpoke(contactId) {
      if (contactId !== getCurrent()) return;
      clearTimeout(suggestTimer);
      suggestTimer = setTimeout(suggest, 800);
    },
    callbackDue(msg) {
      const box = $('ticket-current');
      box.prepend(el('p', { class: 'flash warn' }, `${T.callbackDue}: ${msg.callback ? msg.callback.note || '' : ''}`));
    },
  };
}
