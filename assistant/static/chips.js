// The active-filter chips (gr.HTML js_on_load): "Clear filters" empties the chat's filters.
element.addEventListener('click', (event) => {
  if (event.target.closest('[data-clear-filters]')) trigger('clear_filters', {});
});
