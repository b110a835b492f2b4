// One listener on each HTML panel (gr.HTML js_on_load): a click on a citation opens its document, a
// click on an example question asks it, a 👍/👎 sends feedback on its answer. Event names must appear quoted here for gr.HTML to expose them
// to Python.
element.addEventListener('click', (event) => {
  const cite = event.target.closest('[data-doc]');
  if (cite && element.contains(cite)) {
    event.preventDefault();
    trigger('cite', {doc_id: cite.dataset.doc, start: Number(cite.dataset.start),
                     end: Number(cite.dataset.end), page: cite.dataset.page ? Number(cite.dataset.page) : null});
    return;
  }
  const rating = event.target.closest('[data-rating]');
  if (rating && element.contains(rating)) {
    const box = rating.closest('.ca-feedback');
    const note = box.querySelector('.ca-feedback-note');
    box.querySelectorAll('[data-rating]').forEach((b) => b.setAttribute('aria-pressed', String(b === rating)));
    trigger('feedback', {turn: Number(box.dataset.turn), rating: rating.dataset.rating, note: note ? note.value : ''});
    return;
  }
  const example = event.target.closest('[data-example]');
  if (example && element.contains(example)) trigger('ask_example', {question: example.dataset.example});
});
