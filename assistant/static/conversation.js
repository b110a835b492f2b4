// Keep the newest turn in view as answers arrive: scroll the conversation box (the Gradio block
// #ca-conversation around this element) so that the newest question sits at its top, or to the end
// when a notice follows the conversation. Runs after the new value is drawn.
const showNewest = () => requestAnimationFrame(() => {
  const box = element.closest('#ca-conversation') || element;
  const turns = box.querySelectorAll('.ca-turn');
  const last = turns[turns.length - 1];
  if (!last || box.querySelector('.ca-notice')) {
    box.scrollTop = box.scrollHeight;
    return;
  }
  box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
});
watch('value', showNewest);
