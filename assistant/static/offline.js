// A question asked while the browser is offline (gr.HTML js_on_load on the note under the question box)
// is kept in the browser's storage, with a note saying so, and sent as soon as the browser is back
// online. What is typed in the box is kept there too, so a reload loses neither; a question sent but
// not yet in the conversation when the page is reloaded comes back into the box, except a kept one,
// which is sent again: Gradio reloads the whole page once it reaches the server after a lost
// connection, about 2 s after the browser's `online` event, which may already have sent it.
if (!window.caOffline) {
  const KEY = 'council-assistant-question';
  const WAITING = 'You are offline: your question is kept and will be sent when you are back online.';
  const FAILED = 'Your question could not be sent: it is kept and will be sent when the connection is back.';
  const RETRY = 10000;
  const box = () => document.querySelector('#ca-question textarea');
  const turns = () => document.querySelectorAll('#ca-conversation .ca-turn').length;
  const read = () => {
    try { return JSON.parse(localStorage.getItem(KEY)) || null; } catch (error) { return null; }
  };
  const write = (entry) => {
    try {
      if (entry && entry.text.trim()) localStorage.setItem(KEY, JSON.stringify(entry));
      else localStorage.removeItem(KEY);
    } catch (error) { /* storage full or refused: the box still holds the text */ }
  };
  let note = null, block = null, said = '';
  // The note's block is taken out of the layout while there is nothing to say.
  const say = (text) => {
    said = text;
    if (note) { note.textContent = text; block.style.display = text ? '' : 'none'; }
  };
  const fill = (text) => {
    const input = box();
    if (!input) return false;
    input.value = text;
    input.dispatchEvent(new Event('input', {bubbles: true}));
    return true;
  };

  // Send the kept question (once the browser is online and the box is drawn).
  const send = () => {
    const entry = read();
    if (!entry || entry.status !== 'waiting' || !navigator.onLine) return;
    if (!fill(entry.text)) return;
    write({text: entry.text, status: 'sent', turns: turns(), kept: true, at: Date.now()});
    say('');
    setTimeout(() => { const ask = document.querySelector('#ca-ask'); if (ask) ask.click(); }, 50);
  };
  const submitted = (event) => {
    const input = box();
    if (!input || !input.value.trim()) return;
    if (navigator.onLine) {
      const entry = read();
      const keptSend = entry && entry.kept && entry.status === 'sent' && entry.text === input.value;
      if (event.type !== 'keypress' && !keptSend) write({text: input.value, status: 'sent', turns: turns()});
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    write({text: input.value, status: 'waiting'});
    say(WAITING);
  };
  const onEnter = (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.target === box()) submitted(event);
  };
  window.addEventListener('keydown', onEnter, true);
  window.addEventListener('keypress', onEnter, true);
  window.addEventListener('click', (event) => {
    if (event.target instanceof Element && event.target.closest('#ca-ask')) submitted(event);
  }, true);
  window.addEventListener('input', (event) => {
    if (event.target !== box()) return;
    const entry = read();
    const waiting = entry && entry.status === 'waiting';
    if (entry && entry.status === 'sent' && !event.target.value.trim()) return;
    write({text: event.target.value, status: waiting ? 'waiting' : 'draft'});
  }, true);
  window.addEventListener('online', send);
  // A question whose request fails although the browser thinks it is online (a Wi-Fi without a way
  // through, a server restarting) is kept the same way, and tried again every RETRY ms.
  const fetched = window.fetch.bind(window);
  window.fetch = async (...args) => {
    try {
      return await fetched(...args);
    } catch (error) {
      const entry = read();
      if (String(args[0] && args[0].url || args[0]).includes('/queue/join') && entry && entry.status === 'sent'
          && turns() <= entry.turns) {
        write({text: entry.text, status: 'waiting'});
        const input = box();
        if (input && !input.value.trim()) fill(entry.text);
        say(FAILED);
      }
      throw error;
    }
  };
  setInterval(send, RETRY);
  window.addEventListener('offline', () => { if ((read() || {}).status === 'waiting') say(WAITING); });
  // A sent question is done with once the conversation shows a new turn for it. A kept question this
  // script sent is waiting again when not even its pending turn has appeared after RETRY ms (the click
  // can be lost while Gradio reconnects, and no request then fails to say so).
  setInterval(() => {
    const entry = read();
    if (!entry || entry.status !== 'sent') return;
    if (turns() > entry.turns) write(null);
    else if (entry.kept && Date.now() - entry.at > RETRY) write({text: entry.text, status: 'waiting'});
  }, 500);

  // On load: put the kept question back into the box (once it is drawn and the kept conversation is
  // back), and send it if it was waiting for the connection.
  const restore = (left) => {
    const input = box();
    if (!input) {
      if (left > 0) setTimeout(() => restore(left - 1), 100);
      return;
    }
    let entry = read();
    if (!entry) return;
    if (entry.status === 'sent' && turns() > entry.turns) {
      write(null);
      return;
    }
    if (entry.status === 'sent' && entry.kept) {
      entry = {text: entry.text, status: 'waiting'};
      write(entry);
    }
    if (entry.status === 'waiting') {
      if (navigator.onLine) send(); else { fill(entry.text); say(WAITING); }
    } else if (!input.value.trim()) {
      fill(entry.text);
      write({text: entry.text, status: 'draft'});
    }
  };
  // Gradio draws the page anew after it reconnects to the server: the note moves to the new element.
  window.caOffline = {
    attach(element) {
      note = document.createElement('p');
      note.className = 'ca-small ca-offline-note';
      note.setAttribute('role', 'status');
      element.appendChild(note);
      block = element.closest('#ca-offline') || element;
      say(said);
      setTimeout(() => restore(100), 1500);
    },
  };
}
window.caOffline.attach(element);
