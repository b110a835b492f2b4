// Each tab and each opened document has its own URL (gr.HTML js_on_load on the page header): #chat,
// #search, #library, #watches, and #doc=ID&start=S&end=E&page=P (the fragment the server marks each
// document view with, data-fragment; assistant/ui_nav.py reads it back). Moving between views pushes a
// history entry, so the browser's Back/Forward move between them and a shared link opens its view;
// "← Back" from a document returns to where the user came from. Focus follows: an opened document's
// heading takes it, and closing the document gives it back to the citation or row that opened it (else
// to the tab's own input). The event name must appear quoted here for gr.HTML to expose it to Python.
if (!window.caNav) {
  const TABS = ['chat', 'search', 'library', 'watches'];
  const OPENERS = ['#ca-conversation', '#ca-sources', '#ca-watches', '#ca-results', '#ca-library'];
  const OPENER = '[data-doc], [data-testid^="cell-"]';
  const FALLBACK = {chat: '#ca-question textarea', search: '#ca-query textarea'};
  let expected = null; // the view the page is moving to because the URL changed
  let here = null; // the view shown when last checked
  let shownState = history.state; // the history entry of that view
  let returning = false; // leaving a document by "← Back" or the browser's Back
  let lastOpener = null; // what was clicked last that may open a document

  // The view a fragment names, as a comparable key (mirrors ui_nav.parse_fragment).
  const key = (hash) => {
    const text = (hash || '').replace(/^#/, '');
    if (TABS.includes(text)) return text;
    const fields = new URLSearchParams(text);
    const doc = fields.get('doc');
    if (!doc) return 'chat';
    const number = (name) => (/^\d{1,11}$/.test(fields.get(name) || '') ? fields.get(name) : '');
    let start = number('start'), end = number('end');
    if (!start || !end || Number(end) < Number(start)) start = end = '';
    return ['doc', doc, start, end, number('page')].join('|');
  };
  const isDocument = (view) => view !== null && view.startsWith('doc|');
  const tabButton = (id) => document.querySelector(`button[role="tab"][data-tab-id="${id}"]`);
  const selectedTab = () => {
    const button = document.querySelector('button[role="tab"][aria-selected="true"][data-tab-id]');
    return button ? button.dataset.tabId : null;
  };
  // The fragment of the view on screen; null while there is none to name (no tab yet, or the
  // Document tab before any document was opened).
  const shownFragment = () => {
    const tab = selectedTab();
    if (tab === 'document') {
      const view = document.querySelector('#ca-document [data-fragment]');
      return view ? view.dataset.fragment : null;
    }
    return TABS.includes(tab) ? '#' + tab : null;
  };

  const focusHeading = (left = 20) => {
    const heading = document.querySelector('#ca-document h2') || document.querySelector('#ca-back');
    if (!heading || heading.offsetParent === null) {
      if (left > 0) setTimeout(() => focusHeading(left - 1), 50);
      return;
    }
    if (heading.tagName === 'H2') heading.setAttribute('tabindex', '-1');
    heading.focus({preventScroll: true});
  };
  const returnFocus = (opener, tab, left = 20) => {
    let target = null;
    if (opener) {
      const root = document.querySelector(opener.root);
      target = root ? root.querySelectorAll(OPENER)[opener.index] : null;
    }
    if (!target || target.offsetParent === null) target = document.querySelector(FALLBACK[tab] || `button[role="tab"][data-tab-id="${tab}"]`);
    if (!target || target.offsetParent === null) {
      if (left > 0) setTimeout(() => returnFocus(opener, tab, left - 1), 50);
      return;
    }
    target.focus();
    if (document.activeElement !== target && opener) returnFocus(null, tab, left);
  };

  // Compare what is shown with the URL: a view the user moved to gets its own history entry; a view
  // reached because the URL changed (Back/Forward, a shared link) is where the URL already points.
  const sync = () => {
    const fragment = shownFragment();
    if (fragment === null) return;
    const view = key(fragment);
    if (expected !== null) {
      if (view !== expected) return;
      expected = null;
    } else if (view !== key(location.hash)) {
      const opener = isDocument(view) && lastOpener && Date.now() - lastOpener.at < 60000 ? lastOpener : null;
      history.pushState({ca: true, pushed: true, opener}, '', fragment);
      lastOpener = null;
    }
    if (view === here) return;
    const left = here, leftState = shownState;
    here = view;
    shownState = history.state;
    if (isDocument(view)) focusHeading();
    else if (isDocument(left) && returning) returnFocus(leftState && leftState.opener, view);
    returning = false;
  };
  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => { scheduled = false; sync(); }, 30);
  };

  // Show the view the URL names: a tab by selecting it, a document by asking the server for it
  // (unless the Document tab already shows exactly that view).
  const show = (hash) => {
    const view = key(hash);
    if (view === key(shownFragment())) { returning = false; return; }
    expected = view;
    setTimeout(() => { if (expected === view) expected = null; }, 20000);
    const shownDocument = document.querySelector('#ca-document [data-fragment]');
    if (!isDocument(view)) {
      const button = tabButton(view);
      if (button) button.click(); else expected = null;
    } else if (shownDocument && key(shownDocument.dataset.fragment) === view) {
      tabButton('document').click();
    } else {
      window.caNav.trigger('navigate', {fragment: hash});
    }
  };

  window.caNav = {
    trigger,
    back() {
      returning = true;
      if (history.state && history.state.pushed) history.back();
      else show('#chat');
    },
  };
  window.addEventListener('popstate', () => {
    returning = isDocument(here);
    show(location.hash);
  });
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest('#ca-back')) {
      event.preventDefault();
      window.caNav.back();
      return;
    }
    if (target.closest('button[role="tab"]')) expected = null;
    const opener = target.closest(OPENER);
    const root = opener && OPENERS.map((id) => opener.closest(id)).find(Boolean);
    if (root) {
      lastOpener = {root: '#' + root.id, index: [...root.querySelectorAll(OPENER)].indexOf(opener), at: Date.now()};
    }
  }, true);
  new MutationObserver(schedule).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                          attributeFilter: ['aria-selected', 'data-fragment']});

  // A page loaded at a view's URL (a shared link, or a reload) is taken there by the page's load event
  // (ui.py); until it arrives, the URL is left as it is.
  if (!history.state || !history.state.ca) history.replaceState({ca: true, pushed: false, opener: null}, '');
  shownState = history.state;
  const arrival = key(location.hash);
  if (arrival !== 'chat') {
    expected = arrival;
    setTimeout(() => { if (expected === arrival) expected = null; }, 20000);
  }
  schedule();
}
// Gradio draws the page anew after it reconnects to the server: events then go through the new header.
window.caNav.trigger = trigger;
