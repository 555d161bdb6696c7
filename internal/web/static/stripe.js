// Ticketing: the card form with Stripe.js, used only when a publishable key
// is configured. It turns the card into a PaymentMethod in the browser and
// posts its id as the token; the card number never reaches our servers.
(function () {
  'use strict';
  var form = document.getElementById('pay-form');
  if (!form || typeof Stripe === 'undefined') return;
  var key = form.getAttribute('data-stripe-key');
  if (!key) return;
  var stripe = Stripe(key);
  var card = stripe.elements().create('card');
  card.mount('#card-element');
  var errorEl = document.getElementById('card-error');
  var token = document.getElementById('token');
  var button = form.querySelector('button[type="submit"]');
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    // One card token and one submission, however often Pay is pressed.
    if (button.disabled) return;
    button.disabled = true;
    stripe.createPaymentMethod({ type: 'card', card: card }).then(function (res) {
      if (res.error) {
        errorEl.textContent = res.error.message;
        button.disabled = false;
        return;
      }
      token.value = res.paymentMethod.id;
      form.submit();
    });
  });
})();
