// Ticketing: shows every <time datetime> in the reader's own locale and time
// zone, naming the zone (the page said "UTC"; a time without its zone would
// be ambiguous). Pages render UTC first, so without JavaScript they stay
// correct.
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
  var times = document.querySelectorAll('time[datetime]');
  for (var i = 0; i < times.length; i++) {
    var el = times[i];
    var d = new Date(el.getAttribute('datetime'));
    if (isNaN(d.getTime())) continue;
    el.title = el.textContent;
    el.textContent = fmt.format(d);
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
