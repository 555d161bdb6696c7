// Ticketing: shows every <time datetime> in the reader's own locale and time
// zone. Pages render UTC first, so without JavaScript they stay correct.
(function () {
  'use strict';
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
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
