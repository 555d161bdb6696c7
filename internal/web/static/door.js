// Ticketing door page: where the browser has BarcodeDetector and a camera,
// a "Scan with camera" button reads a ticket's QR code and sends what it
// read through the page's own form, as a hand scanner would. Without it
// (or without JavaScript) the form works as it is. After each result the
// code field is empty and focused for the next code.
(function () {
  'use strict';
  var form = document.getElementById('door-form');
  var input = document.getElementById('code');
  if (!form || !input) return;
  input.value = '';
  input.focus();
  // A form sent twice (Enter held, a scanner's double Enter) checks once.
  form.addEventListener('submit', function (e) {
    if (form.getAttribute('data-sent')) {
      e.preventDefault();
      return;
    }
    form.setAttribute('data-sent', '1');
  });
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) {
      form.removeAttribute('data-sent');
      input.value = '';
      input.focus();
    }
  });

  var box = document.getElementById('door-camera');
  var start = document.getElementById('door-camera-start');
  var video = document.getElementById('door-video');
  var note = document.getElementById('door-camera-note');
  if (!box || !start || !video || !('BarcodeDetector' in window) ||
      !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  box.hidden = false;
  var stream = null;

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
    }
    video.hidden = true;
    start.textContent = 'Scan with camera';
  }

  start.addEventListener('click', function () {
    if (stream) {
      stop();
      return;
    }
    var detector;
    try {
      detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    } catch (e) {
      note.textContent = 'This browser cannot read QR codes; type the short code.';
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      start.textContent = 'Stop camera';
      note.textContent = 'Point the camera at the QR code.';
      return video.play().then(function () {
        var look = function () {
          if (!stream) return;
          detector.detect(video).then(function (codes) {
            if (codes.length && codes[0].rawValue) {
              input.value = codes[0].rawValue;
              stop();
              if (form.requestSubmit) form.requestSubmit(); else form.submit();
              return;
            }
            window.setTimeout(look, 150);
          }, function () { window.setTimeout(look, 300); });
        };
        look();
      });
    }).catch(function () {
      stop();
      note.textContent = 'The camera could not be used; type the short code or use a hand scanner.';
    });
  });
})();
