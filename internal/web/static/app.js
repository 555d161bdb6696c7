// Ticketing: shows every <time datetime> in the reader's own locale and time
// zone, naming the zone (the page said "UTC"; a time without its zone would
// be ambiguous). Pages render UTC first, so without JavaScript they stay
// correct. A time marked data-fixed is an event's, in the event's zone,
// written by the server: it stays. The label of an event's "your time"
// line names the reader's zone; the line is hidden when that zone is the
// event's. An empty time zone field marked data-fill-zone (creating an
// event) gets the reader's zone.
(function () {
  'use strict';
  var fmt;
  try {
    // dateStyle/timeStyle cannot be combined with timeZoneName: spell the
    // parts out.
    fmt = new Intl.DateTimeFormat(undefined, {
      year: 'numeric', month: 'short', day: 'numeric',
      hour: 'numeric', minute: '2-digit', timeZoneName: 'short'
    });
  } catch (e) {
    return;
  }
  var zone = '';
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch (e) { /* an old browser: the label says "Your time" */ }
  var times = document.querySelectorAll('time[datetime]:not([data-fixed])');
  for (var i = 0; i < times.length; i++) {
    var el = times[i];
    var d = new Date(el.getAttribute('datetime'));
    if (isNaN(d.getTime())) continue;
    el.title = el.textContent;
    el.textContent = fmt.format(d);
  }
  var lines = document.querySelectorAll('.viewer-time');
  for (var j = 0; j < lines.length; j++) {
    if (zone && lines[j].getAttribute('data-event-zone') === zone) {
      lines[j].hidden = true;
      continue;
    }
    var label = lines[j].querySelector('[data-viewer-label]');
    if (label) label.textContent = zone ? 'Your time (' + zone + ')' : 'Your time';
  }
  var fields = document.querySelectorAll('input[data-fill-zone]');
  for (var k = 0; k < fields.length; k++) {
    if (zone && !fields[k].value) fields[k].value = zone;
  }
})();

// Ticketing: a form marked data-submit-once (Pay) is sent once: its button
// is disabled on the first submit and a second one is ignored. Without
// JavaScript the server answers a second submission as it did the first.
(function () {
  'use strict';
  // On the document, so it runs after the form's own handlers: one that
  // holds the submit back (Stripe.js making the card token) has not sent
  // it yet.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form.hasAttribute || !form.hasAttribute('data-submit-once') || e.defaultPrevented) return;
    if (form.getAttribute('data-sent')) {
      e.preventDefault();
      return;
    }
    form.setAttribute('data-sent', '1');
    var buttons = form.querySelectorAll('button[type="submit"]');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true;
      buttons[i].setAttribute('aria-busy', 'true');
    }
  });
  // A page restored by Back (back/forward cache) may be sent again.
  window.addEventListener('pageshow', function (e) {
    if (!e.persisted) return;
    var forms = document.querySelectorAll('form[data-sent]');
    for (var i = 0; i < forms.length; i++) {
      forms[i].removeAttribute('data-sent');
      var buttons = forms[i].querySelectorAll('button[type="submit"]');
      for (var j = 0; j < buttons.length; j++) {
        buttons[j].disabled = false;
        buttons[j].removeAttribute('aria-busy');
      }
    }
  });
})();
