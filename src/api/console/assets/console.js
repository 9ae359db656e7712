// Live search pages: follows the search's progress over the GraphQL subscription (Server-Sent
// Events) and, on each event, reloads the page's main element, so the tree, the plot and the
// figures stay those the server renders (escaped there). Stops when the search ends.
const main = document.getElementById('main');
const live = main?.querySelector('[data-live-search]');
if (live) {
  const id = live.getAttribute('data-live-search');
  const query = 'subscription($id: ID!) { searchProgress(id: $id) { type samplesUsed } }';
  const url = `/graphql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify({ id }))}`;
  const events = new EventSource(url);
  // One refresh at a time; an event that arrives during one asks for another after it, so the
  // last event (the search's end) is never lost to a refresh already under way.
  let running = false;
  let again = false;
  const refresh = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const response = await fetch(window.location.href, { headers: { accept: 'text/html' } });
        const page = new DOMParser().parseFromString(await response.text(), 'text/html');
        const next = page.getElementById('main');
        // Asked before the nodes move: replaceChildren takes them out of `next`.
        const stillLive = Boolean(next?.querySelector('[data-live-search]'));
        if (next) main.replaceChildren(...next.childNodes);
        if (!stillLive) events.close();
      } while (again);
    } finally {
      running = false;
    }
  };
  events.addEventListener('next', refresh);
  events.addEventListener('complete', () => {
    events.close();
    refresh();
  });
}
