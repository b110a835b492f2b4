// Answer actions (ui_html.answer_actions_html; the texts are built by export.py into each answer's
// data-copy and data-markdown): "Copy answer" puts one answer with its sources on the clipboard as plain
// text; "Export conversation" downloads every answer's Markdown section, joined as
// export.conversation_markdown joins them. No call to the server. In a block: this script shares the
// panel's js_on_load with others.
{
  const copyText = (text) => {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain http on a network address has no Clipboard API: copy through a selected, hidden text area.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    const copied = document.execCommand('copy');
    area.remove();
    return copied ? Promise.resolve() : Promise.reject(new Error('copy refused'));
  };
  const download = (text, name) => {
    const url = URL.createObjectURL(new Blob([text], {type: 'text/markdown;charset=utf-8'}));
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  };
  const acknowledge = (button, words) => {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = words;
    clearTimeout(button.restore);
    button.restore = setTimeout(() => { button.textContent = label; }, 2500);
  };
  element.addEventListener('click', (event) => {
    const button = event.target.closest('.ca-answer-actions [data-action]');
    if (!button || !element.contains(button)) return;
    const row = button.closest('.ca-answer-actions');
    if (button.dataset.action === 'copy') {
      copyText(row.dataset.copy).then(() => acknowledge(button, 'Copied ✓'),
                                      () => acknowledge(button, 'Copy failed: select the text instead'));
    } else if (button.dataset.action === 'export') {
      const sections = [...element.querySelectorAll('.ca-answer-actions')].map((r) => r.dataset.markdown);
      const day = new Date().toISOString().slice(0, 10);
      download([button.dataset.head, ...sections].join('\n\n') + '\n', `council-papers-conversation-${day}.md`);
      acknowledge(button, 'Exported ✓');
    }
  });
}
