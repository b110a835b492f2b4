// The conversation column: applies each step (steps.js), keeps the browser's copy of the conversation
// (one record per finished turn, in local storage) and asks the server to draw it again on page load,
// and keeps the newest turn in view.
const STORE = 'council-assistant-turns';
const storedTurns = () => {
  try {
    const turns = JSON.parse(localStorage.getItem(STORE) || '[]');
    return Array.isArray(turns) ? turns : [];
  } catch (error) {
    return [];
  }
};
const storeTurns = (turns) => {
  try {
    localStorage.setItem(STORE, JSON.stringify(turns));
  } catch (error) {
    console.warn('the conversation could not be kept in this browser:', error);
  }
};
// Scroll the conversation box (the Gradio block #ca-conversation around this element) so that the
// newest question sits at its top, or to the end when a notice follows the conversation.
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
watch('step', () => {
  const step = props.step;
  applyStep(step);
  if (step && Array.isArray(step.records)) storeTurns(step.records);
  if (step && step.record) storeTurns([...storedTurns(), step.record].slice(-(Number(step.keep) || 50)));
  showNewest();
});
watch('value', showNewest);
const kept = storedTurns();
if (kept.length) trigger('restore', {turns: kept});
