// Ticketing: the live countdown of the order page. It counts down to the
// order's expiry every second and, at zero, says "Order expired" and hides
// the pay and cancel forms. The server's clock at render time corrects a
// visitor's clock that is off.
(function () {
  'use strict';
  var el = document.getElementById('countdown');
  if (!el) return;
  var expires = Date.parse(el.getAttribute('data-expires'));
  if (isNaN(expires)) return;
  var serverNow = Date.parse(el.getAttribute('data-server-now'));
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function now() { return Date.now() + skew; }

  function format(secs) {
    var h = Math.floor(secs / 3600), m = Math.floor(secs / 60) % 60, s = secs % 60;
    var ss = (s < 10 ? '0' : '') + s;
    if (h > 0) return h + ':' + (m < 10 ? '0' : '') + m + ':' + ss;
    return m + ':' + ss;
  }

  function hide(id) {
    var n = document.getElementById(id);
    if (n) n.hidden = true;
  }

  function expire() {
    el.textContent = '0:00';
    hide('countdown-box');
    hide('pay-section');
    var status = document.getElementById('order-status');
    if (status) {
      status.textContent = 'Expired';
      status.className = 'badge badge-muted';
    }
    var msg = document.getElementById('order-expired');
    if (msg) msg.hidden = false;
  }

  function tick() {
    var ms = expires - now();
    if (ms <= 0) {
      expire();
      return;
    }
    el.textContent = format(Math.ceil(ms / 1000));
    // Wake just after the next whole second of what is left.
    setTimeout(tick, (ms % 1000) + 20);
  }
  tick();
})();
