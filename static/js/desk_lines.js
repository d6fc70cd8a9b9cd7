// The conversation's lines on the desk: times in the desk's language, and one short line for each event a
// trainee should notice (the rest stay in the transcript), with codes (wrap-up, queues) by their labels; and the
// composer's '/' service-phrase menu.

import { el } from './common.js';

export function conversationLines(cfg) {
  const T = cfg.i18n;
  const $ = (id) => document.getElementById(id);
  const targetLabel = (target) => {
    const q = (cfg.queues || []).find((x) => x.id === target);
    return q ? q.label : target;
  };

  function fmtTime(ts) {
    return new Date(ts * 1000).toLocaleTimeString(cfg.lang === 'en' ? 'en-GB' : 'zh-CN', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function wrapUpLabel(code) {
    const hit = [...$('wrap-up-code').options].find((o) => o.value === code);
    return hit ? hit.textContent : code;
  }

  // One line in the conversation for the events a trainee should notice; the rest stay in the transcript.
  function systemLabel(ev) {
    switch (ev.type) {
      case 'assignment': return ev.data.after_transfer ? `${T.transferredToYou} · ${ev.data.agent_name}` : `${T.assigned} · ${ev.data.agent_name}`;
      case 'transfer': return `${T.transferred} → ${targetLabel(ev.data.target)}: ${ev.text || ''}`;
      // A reason nobody labelled is left out rather than shown as stored.
      case 'contact.ended': return T.reasons[ev.data.reason] ? `${T.ended} (${T.reasons[ev.data.reason]})` : T.ended;
      case 'wrap_up': return `${T.closed} · ${wrapUpLabel(ev.data.code)}`;
      case 'kb.send': return `${T.sentArticle}: ${ev.data.title || ev.data.slug}`;
      case 'csat.answered': return `${T.csat}: ${ev.data.score}/5`;
      case 'ticket.created': return `${T.ticket} ${ev.data.number}`;
      case 'monitor.coach': return `${T.coachNote}: ${ev.text}`;
      case 'monitor.takeover': return `${T.takenOver} ${ev.data.agent_name}`;
      case 'monitor.whisper': return `${T.leadWhispering} · ${ev.data.monitor_name}`;
      case 'monitor.barge': return `${T.leadBarged} · ${ev.data.monitor_name}`;
      case 'crm.verify': return `${T.identity}: ${ev.data.result === 'verified' ? T.verified : T.notVerified}`;
      default: return null;
    }
  }

  // The '/' menu of service phrases under the composer: picking one replaces the typed /word.
  function renderSnippets(v) {
    const menu = $('snippet-menu');
    const m = v.match(/(?:^|\s)\/(\S*)$/);
    if (!m) { menu.hidden = true; return; }
    const q = m[1].toLowerCase();
    const hits = cfg.snippets.filter((s) => s.key.toLowerCase().includes(q) || s.text.toLowerCase().includes(q)).slice(0, 8);
    menu.replaceChildren(...hits.map((s) => el('li', { class: 'snippet', dataset: { key: s.key }, onclick: () => {
      const c = $('composer');
      c.value = c.value.slice(0, c.value.length - m[0].length) + (m[0].startsWith(' ') ? ' ' : '') + s.text;
      menu.hidden = true;
      c.focus();
      c.dispatchEvent(new Event('input'));
    } }, el('b', {}, `/${s.key}`), ' ', s.text)));
    menu.hidden = hits.length === 0;
  }

  return { fmtTime, systemLabel, renderSnippets };
}
