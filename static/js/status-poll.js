// While a result is being fetched, ask the portal every half second for
// the first 20 s (the outcome is due within seconds: the page shows it
// about half a second after the portal records it), then less often, up to
// every two seconds; reload the page once the status moves on. Gives up
// after ten minutes, the life of a vendor token, leaving the page as it is.
(function () {
  "use strict";
  var card = document.getElementById("session");
  if (!card) return;
  var initial = card.dataset.status;
  var url = card.dataset.statusUrl;
  var message = document.getElementById("message");
  var since = Date.now();
  var deadline = since + 10 * 60 * 1000;
  var FAST_MS = 500, FAST_FOR_MS = 20000, MAX_MS = 2000;
  var delay = FAST_MS;
  function next() {
    if (Date.now() - since > FAST_FOR_MS) delay = Math.min(MAX_MS, delay * 1.5);
    return delay;
  }

  function poll() {
    if (Date.now() > deadline) return;
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.status !== initial) {
          window.location.reload();
          return;
        }
        if (body && message) message.textContent = body.message;
        setTimeout(poll, next());
      })
      .catch(function () { setTimeout(poll, 2 * MAX_MS); });
  }
  setTimeout(poll, FAST_MS);
})();
