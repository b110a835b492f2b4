// One listener on each HTML panel (gr.HTML js_on_load): a click on a citation opens its document, a
// click on an example question asks it. Event names must appear quoted here for gr.HTML to expose them
// to Python.
element.addEventListener('click', (event) => {
  const cite = event.target.closest('[data-doc]');
  if (cite && element.contains(cite)) {
    event.preventDefault();
    trigger('cite', {doc_id: cite.dataset.doc, start: Number(cite.dataset.start),
                     end: Number(cite.dataset.end), page: cite.dataset.page ? Number(cite.dataset.page) : null});
    return;
  }
  const example = event.target.closest('[data-example]');
  if (example && element.contains(example)) trigger('ask_example', {question: example.dataset.example});
});
