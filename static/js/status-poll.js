// While a result is being fetched, ask the portal every two seconds and
// reload the page once the status moves on. Gives up after ten minutes,
// the life of a vendor token, leaving the page as it is.
(function () {
  "use strict";
  var card = document.getElementById("session");
  if (!card) return;
  var initial = card.dataset.status;
  var url = card.dataset.statusUrl;
  var message = document.getElementById("message");
  var deadline = Date.now() + 10 * 60 * 1000;

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
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 2000);
})();
