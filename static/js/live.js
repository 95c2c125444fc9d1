/* Live updates: one Server-Sent Events stream per page (GET /live/events), re-dispatched on
 * `document` as DOM events that pages subscribe to. base.html loads this file for signed-in
 * users, with the stream's URL in the script tag's data-url.
 *
 * The contract for pages (docs/architecture.md, "Live updates"):
 *
 *   imagegen:generation  detail {id, status}   one of the user's generations changed state
 *                                              (queued, running, succeeded, failed, canceled;
 *                                              a cancel request on a running one is an event
 *                                              with status "running")
 *   imagegen:progress    detail {id, status, progress}  a running generation whose backend
 *                                              reports steps moved (0..1), its status as the
 *                                              last imagegen:generation said: pages that show
 *                                              no bar need not listen (two a second per job)
 *   imagegen:image       detail {id, project}  a new image the user may see (theirs, or in a
 *                                              project they own or are a member of); project is
 *                                              null for none
 *   imagegen:resync      detail {first}        the stream (re)connected: events may have been
 *                                              missed before it (between the page's render and
 *                                              the first connection, or while disconnected), so
 *                                              re-fetch whatever the page shows live. first is
 *                                              true for the page's first connection.
 *
 * Events say what changed, not the new state: fetch what you show (an htmx fragment or the
 * JSON API). `status` is the state the server's watcher read (it polls every 200 ms): changes
 * within one poll arrive as one event, so a generation may go from queued to succeeded with
 * no "running" in between. Bursts happen (a submission of 4 is 4 × 3 events): debounce, e.g. htmx's
 * `hx-trigger="imagegen:generation from:document delay:100ms, imagegen:resync from:document"`.
 * The stream ends every few minutes and when the server restarts; the browser reconnects by
 * itself (after the server's `retry`), and each reconnection is an imagegen:resync. */
(function () {
  "use strict";

  const script = document.currentScript;
  const url = script && script.dataset.url;
  if (!url || !window.EventSource) return;

  const KINDS = ["generation", "image"];
  let source = null;
  let opened = 0;
  // The status each generation had in its last event: an event that only moves a running
  // job's progress is an imagegen:progress, not a state change.
  const statuses = new Map();

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent("imagegen:" + name, { detail: detail }));
  }

  function connect() {
    if (source) return;
    source = new EventSource(url);
    source.addEventListener("open", () => {
      opened += 1;
      emit("resync", { first: opened === 1 });
    });
    KINDS.forEach((kind) => {
      source.addEventListener(kind, (message) => {
        let detail;
        try {
          detail = JSON.parse(message.data);
        } catch (error) {
          return; // not ours: ignore rather than break the page
        }
        if (kind === "generation" && detail && detail.progress != null &&
            statuses.get(detail.id) === detail.status) {
          emit("progress", detail);
          return;
        }
        if (kind === "generation" && detail) statuses.set(detail.id, detail.status);
        emit(kind, detail);
      });
    });
  }

  function disconnect() {
    if (source) source.close();
    source = null;
  }

  // Leaving the page frees the server's stream at once; coming back from the back-forward
  // cache reconnects (and so resyncs).
  window.addEventListener("pagehide", disconnect);
  window.addEventListener("pageshow", (event) => { if (event.persisted) connect(); });
  connect();
})();
