// The outage line (#outage in entry.html): when the verification service is
// not answering, the page says it keeps checking, and does: it asks the
// session's status every KYC_OUTAGE_CHECK_SECONDS (15) and, once the vendor may be called again
// (`vendor_up`), says so and puts the "Try again" button in reach. The
// recorder starts it too when starting an attempt met a 503.
(function () {
  "use strict";
  var node = document.getElementById("outage");
  if (!node) return;
  var EVERY_MS = Number(node.dataset.everyMs) || 15000;
  var GIVE_UP_MS = 30 * 60 * 1000;
  var watching = false;

  function say(text) { node.textContent = text; node.hidden = false; }

  function watch() {
    if (watching) return;
    watching = true;
    var deadline = Date.now() + GIVE_UP_MS;
    say(node.dataset.checking);
    function check() {
      if (Date.now() > deadline) { say(node.dataset.later); return; }
      fetch(node.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && body.vendor_up) {
            say(node.dataset.back);
            node.classList.add("outage-over");
            var retry = document.getElementById("retry-button") || document.getElementById("camera-button");
            if (retry && retry.focus) retry.focus();
            watching = false;
            return;
          }
          say(node.dataset.down.replace("{time}", new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
          setTimeout(check, EVERY_MS);
        })
        .catch(function () { setTimeout(check, EVERY_MS); });
    }
    setTimeout(check, EVERY_MS);
  }

  window.kycOutage = { watch: watch };
  if (node.dataset.watch === "true") watch();
})();
