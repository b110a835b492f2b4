// Apply the steps of ui_html (whole_step, part_step, text_step, notice_step) to this panel: the
// conversation or the sources (gr.HTML js_on_load). The panel is drawn whole once; each event then
// sends only what it changes, and this puts it in place.
const panelRoot = () => element.querySelector('.ca-html') || element;
const parseOne = (html) => {
  const template = document.createElement('template');
  template.innerHTML = html;
  return template.content.firstElementChild;
};
// Replace `old` by `fresh` but keep old's live region (.ca-reply): the same element from the pending
// question to the finished answer, so assistive technology follows one region per answer.
const patchKeepingReply = (old, fresh) => {
  const reply = old.querySelector(':scope > .ca-reply');
  const next = fresh.querySelector(':scope > .ca-reply');
  if (!reply || !next) {
    old.replaceWith(fresh);
    return;
  }
  for (const child of [...old.childNodes]) if (child !== reply) child.remove();
  let before = true;
  for (const child of [...fresh.childNodes]) {
    if (child === next) before = false;
    else if (before) old.insertBefore(child, reply);
    else old.appendChild(child);
  }
  for (const attr of [...reply.attributes]) if (!next.hasAttribute(attr.name)) reply.removeAttribute(attr.name);
  for (const attr of [...next.attributes]) reply.setAttribute(attr.name, attr.value);
  for (const attr of [...fresh.attributes]) old.setAttribute(attr.name, attr.value);
  reply.replaceChildren(...next.childNodes);
};
const applyStep = (step) => {
  if (!step || typeof step !== 'object') return;
  if (typeof step.html === 'string') panelRoot().replaceWith(parseOne(step.html));
  const box = panelRoot();
  if (step.drop) box.querySelector('#' + CSS.escape(step.drop))?.remove();
  if (typeof step.part === 'string') {
    const fresh = parseOne(step.part);
    const old = fresh.id ? box.querySelector('#' + CSS.escape(fresh.id)) : null;
    if (old) patchKeepingReply(old, fresh);
    else {
      box.querySelectorAll(':scope > .ca-empty, :scope > .ca-notice').forEach((n) => n.remove());
      box.appendChild(fresh);
    }
    if (step.fold) box.querySelectorAll('details[open]').forEach((d) => { if (d.id !== fresh.id) d.open = false; });
  }
  if (typeof step.text === 'string') {
    const reply = box.querySelector(`#ca-turn-${Number(step.turn)} > .ca-reply`);
    if (reply) {
      let text = reply.querySelector('.ca-streaming .ca-answer-text');
      if (!text) {
        reply.replaceChildren(parseOne('<div class="ca-answer ca-streaming"><span class="ca-label">From the papers ' +
                                       '(being written; citations follow)</span><p class="ca-answer-text"></p></div>'));
        text = reply.querySelector('.ca-answer-text');
      }
      text.textContent = step.text;
    }
  }
  if (typeof step.notice === 'string') {
    box.querySelectorAll(':scope > .ca-notice').forEach((n) => n.remove());
    box.appendChild(parseOne(step.notice));
  }
  if ('busy' in step && box.classList.contains('ca-conversation')) box.setAttribute('aria-busy', String(!!step.busy));
};
