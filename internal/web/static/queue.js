// Ticketing: the waiting room, live. Without this script the page reloads
// itself (a meta refresh inside <noscript>); with it, the page follows the
// room's server-sent events and updates the place, the people ahead and
// the estimate in its live region, reloading only when the state changes
// (the draw, the caller's turn, sold out), so the server renders what the
// new state offers. If the stream cannot be used it falls back to
// reloading every few seconds.
(function () {
  'use strict';
  var box = document.getElementById('queue-status');
  if (!box) return;
  var url = box.getAttribute('data-stream');
  var state = box.getAttribute('data-state');
  var every = parseInt(box.getAttribute('data-refresh'), 10) || 5;
  if (!url || !state || state === 'admitted' || state === 'closed' || state === 'expired') return;

  function fallback() {
    window.setTimeout(function () { window.location.reload(); }, every * 1000);
  }
  if (!window.EventSource) { fallback(); return; }

  function set(id, text) {
    var n = document.getElementById(id);
    if (n && n.textContent !== text) n.textContent = text;
  }

  function estimate(secs) {
    if (secs === null || secs === undefined) return '';
    if (secs === 0) return 'any moment now';
    var m = Math.ceil(secs / 60);
    return m <= 1 ? 'about a minute' : 'about ' + m + ' minutes';
  }

  var failures = 0;
  var es = new EventSource(url);
  es.addEventListener('status', function (ev) {
    failures = 0;
    var q;
    try { q = JSON.parse(ev.data); } catch (e) { return; }
    if (q.state !== state || (q.joined && q.position !== null && !document.getElementById('queue-position'))) {
      es.close();
      window.location.reload();
      return;
    }
    if (q.position !== null) set('queue-position', String(q.position));
    if (q.ahead !== null) set('queue-ahead', String(q.ahead));
    set('queue-length', String(q.length));
    var est = estimate(q.estimate);
    set('queue-estimate', est ? ' Your turn in ' + est + '.' : '');
  });
  es.onerror = function () {
    // EventSource reconnects by itself after a stream ends; only give up
    // on it when it keeps failing.
    if (++failures >= 3 || es.readyState === EventSource.CLOSED) {
      es.close();
      fallback();
    }
  };
})();
