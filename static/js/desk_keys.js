// Keyboard shortcuts of the desk, listed in the help overlay (? or the ? button): Alt+Down/Up next/previous
// conversation, R reply, / service phrases, A answer the ringing call, W wrap-up code, Esc close the help.
// Letter keys act only when the cursor is not in a text field, so typing is never taken over.

const $ = (id) => document.getElementById(id);
const visible = (node) => node && !node.disabled && node.offsetParent !== null;

function typingIn(target) {
  return target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

function replyBox() {
  return [$('composer'), $('email-reply-body')].find(visible) || null;
}

export function initKeys({ select, currentId }) {
  const help = $('shortcuts-help');
  const openHelp = () => { if (!help.open) help.showModal(); };
  $('shortcuts-open').addEventListener('click', openHelp);

  function step(delta) {
    const ids = [...document.querySelectorAll('#contact-list li.contact')].map((li) => Number(li.dataset.contactId));
    if (!ids.length) return;
    const at = ids.indexOf(currentId());
    const next = ids[at < 0 ? 0 : (at + delta + ids.length) % ids.length];
    select(next);
    const li = document.querySelector(`#contact-list li[data-contact-id='${next}']`);
    if (li) li.focus();
  }

  document.addEventListener('keydown', (e) => {
    if (e.altKey && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      step(e.key === 'ArrowDown' ? 1 : -1);
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target) || help.open) return;
    const key = e.key.toLowerCase();
    if (key === '?') { e.preventDefault(); openHelp(); } else if (key === 'r') {
      const box = replyBox();
      if (box) { e.preventDefault(); box.focus(); }
    } else if (key === '/') {
      const box = visible($('composer')) ? $('composer') : null;
      if (box) {
        e.preventDefault();
        box.focus();
        box.value += (box.value && !box.value.endsWith(' ') ? ' ' : '') + '/';
        box.dispatchEvent(new Event('input'));
      }
    } else if (key === 'a') {
      const answer = [$('call-answer'), $('video-answer')].find(visible);
      if (answer) { e.preventDefault(); answer.click(); }
    } else if (key === 'w') {
      if (visible($('wrap-up-code'))) { e.preventDefault(); $('wrap-up-code').focus(); }
    }
  });
}
