// The live chat beside a livestream, shared by the presenter's and the viewer's pages: comments arrive in
// batches (one emit per ~150 ms), presenter actions as recorded contact events. Text goes in with textContent.
import { el } from './common.js';

export function connect(cfg) {
  const auth = cfg.guest ? { guest: cfg.guest, name: sessionStorage.getItem('kefu.live.name') || '' } : {};
  return io('/livestream', { transports: ['websocket', 'polling'], auth });
}

export function ask(socket, event, data) {
  return new Promise((resolve) => socket.timeout(30000).emit(event, data, (err, res) => resolve(err ? { ok: false, error: 'timeout' } : res)));
}

export class Feed {
  constructor(cfg, box, pinnedBox, actions) {
    this.T = cfg.i18n;
    this.box = box;
    this.pinnedBox = pinnedBox;
    this.actions = actions; // presenter: {answer(seq), pin(seq), move(seq)}; viewers: null
    this.rows = new Map();
    this.lastSeq = 0;
    this.maxRows = 300; // a long stream keeps the page light: older rows are dropped from view
  }

  comment(c) {
    if (this.rows.has(c.seq)) return;
    const row = el('div', { class: 'msg', dataset: { seq: c.seq, viewer: c.viewer || '' } },
      el('b', {}, `${c.name || ''}: `), el('span', { class: 'text' }, c.text));
    if (this.actions) {
      row.append(' ',
        el('button', { class: 'link mark-answered', onclick: () => this.actions.answer(c.seq) }, this.T.markAnswered),
        el('button', { class: 'link pin', onclick: () => this.actions.pin(c.seq) }, this.T.pin),
        el('button', { class: 'link move', onclick: () => this.actions.move(c.seq) }, this.T.moveToChat));
    }
    this.rows.set(c.seq, row);
    this.box.append(row);
    while (this.box.childElementCount > this.maxRows) {
      const first = this.box.firstElementChild;
      this.rows.delete(Number(first.dataset.seq));
      first.remove();
    }
    this.box.scrollTop = this.box.scrollHeight;
  }

  comments(list) {
    const stick = this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 40;
    for (const c of list) this.comment(c);
    if (stick) this.box.scrollTop = this.box.scrollHeight;
  }

  event(ev) {
    const d = ev.data || {};
    const row = d.comment_seq ? this.rows.get(d.comment_seq) : null;
    if (ev.type === 'livestream.answered' && row) {
      row.classList.add('answered');
      row.append(el('span', { class: 'tag' }, this.T.answered));
    } else if (ev.type === 'livestream.pinned') {
      this.pinnedBox.hidden = false;
      this.pinnedBox.replaceChildren(el('b', {}, `${this.T.pinned}: `), el('span', { id: 'ls-pinned-text' }, ev.text));
      if (row) { row.classList.add('answered'); }
    } else if (ev.type === 'livestream.reply') {
      this.box.append(el('div', { class: 'msg sys presenter-reply', dataset: { seq: ev.seq } }, el('b', {}, `${this.T.presenter}: `), ev.text));
      this.box.scrollTop = this.box.scrollHeight;
    } else if (ev.type === 'livestream.moved_to_chat' && row) {
      row.classList.add('moved');
      row.append(el('span', { class: 'tag' }, this.T.movedToChat));
    }
  }

  replay(feed) {
    for (const item of feed) {
      if (item.comment) this.comment(item.comment);
      else this.event(item.event);
    }
  }
}

export function showError(node, text) {
  node.hidden = !text;
  node.textContent = text || '';
}
