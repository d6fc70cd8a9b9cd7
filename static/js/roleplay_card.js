// The role-player's customer card: when the page was opened from a role-play link (?roleplay=TOKEN), fetch the
// scenario's card and show it beside the chat or call, and start the contact through the role-play (the
// contact then carries the scenario). Text is inserted with textContent only.
import { api, el } from './common.js';

export const roleplayToken = new URLSearchParams(location.search).get('roleplay');

function list(items) {
  return el('ul', {}, ...items.map((t) => el('li', {}, t)));
}

function section(title, ...body) {
  return el('div', { class: 'rp-section' }, el('h3', {}, title), ...body);
}

export async function showCard(box) {
  if (!roleplayToken || !box) return null;
  const T = JSON.parse(box.dataset.labels);
  let data;
  try {
    data = await api('GET', `/api/roleplays/card?token=${encodeURIComponent(roleplayToken)}`);
  } catch (e) {
    box.hidden = false;
    box.append(el('p', { class: 'error' }, e.message));
    return null;
  }
  box.hidden = false;
  const c = data.card;
  if (!c) { box.append(el('p', {}, T.free)); return data; }
  box.append(el('h2', {}, `${T.card}: ${c.name}`), el('p', { class: 'muted' }, c.title));
  box.append(section(T.who, el('p', {}, c.type), el('p', {}, `${T.mood}: ${c.mood} · ${T.patience}: ${c.patience_seconds} s`)));
  box.append(section(T.opening, list(c.opening)));
  if (c.identity) box.append(section(T.identity, el('p', {}, `${c.identity.name} · ${T.phoneLast4}: ${c.identity.phone_last4}`)));
  if (c.facts.length) box.append(section(T.facts, list(c.facts.map((f) => `${f.value} — ${T.when} ${f.when.join(' / ')}`))));
  if (c.reactions.length) box.append(section(T.reactions, list(c.reactions.map((r) => `${T.ifAgent} ${r.when}: ${r.say.join(' / ') || '…'}`))));
  if (c.satisfied_when.length) box.append(section(T.satisfied, list(c.satisfied_when)));
  return data;
}

export async function startRoleplay(name) {
  return api('POST', '/api/roleplays/start', { token: roleplayToken, name });
}
