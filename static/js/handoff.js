// Continue on a phone: asks the portal for a short link to this session,
// shows it as a QR code and as text to copy, then follows the session's
// status and reloads into the result once the other device has finished.
// Shown up front on desktop browsers; any [data-handoff] button opens it.
(function () {
  "use strict";
  var panel = document.getElementById("handoff");
  if (!panel) return;
  var OUTCOMES = ["passed", "failed", "error", "expired"];
  var POLL_MS = 2000;
  var $ = function (id) { return document.getElementById(id); };
  var statusLine = $("handoff-status");
  var following = false;
  var initialStatus = panel.dataset.status;
  var sawProgress = OUTCOMES.indexOf(initialStatus) < 0;

  function isDesktop() {
    var mobile = /Mobi|Android|iPhone|iPad|iPod|HarmonyOS/i.test(navigator.userAgent);
    var coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    return !mobile && !coarse && !(navigator.maxTouchPoints > 1);  // iPadOS says "Macintosh"
  }

  function say(key) { statusLine.textContent = statusLine.dataset[key]; }

  function open(upFront) {
    var card = document.getElementById("session");
    if (upFront && card) card.parentNode.insertBefore(panel, card);  // offered before anything else
    panel.hidden = false;
    $("handoff-desktop-intro").hidden = !upFront;
    $("handoff-intro").hidden = upFront;
    if (!upFront) $("handoff-title").focus();
    if ($("handoff-link").value) return;
    fetch(panel.dataset.handoffUrl, { method: "POST", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (body) {
        $("handoff-qr").src = body.qr_code;
        $("handoff-link").value = body.url;
        say("waiting");
        follow();
      })
      .catch(function () { say("failed"); });
  }

  // The phone works on the same session: reload once it reaches an outcome
  // (a new one, if this page already showed an earlier attempt's).
  function follow() {
    if (following) return;
    following = true;
    (function poll() {
      fetch(panel.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body) {
            var outcome = OUTCOMES.indexOf(body.status) >= 0;
            if (!outcome) sawProgress = true;
            if (outcome && (sawProgress || body.status !== initialStatus)) {
              window.location.reload();
              return;
            }
            if (body.opened_elsewhere) say("opened");
          }
          setTimeout(poll, POLL_MS);
        })
        .catch(function () { setTimeout(poll, POLL_MS * 2); });
    })();
  }

  function copy() {
    var input = $("handoff-link");
    var button = $("handoff-copy");
    var done = function () { button.textContent = button.dataset.copied; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select();
        if (document.execCommand("copy")) done();
      });
    } else {
      input.select();
      if (document.execCommand("copy")) done();
    }
  }

  $("handoff-copy").addEventListener("click", copy);
  $("handoff-stay").addEventListener("click", function () { panel.hidden = true; });
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest("[data-handoff]");
    if (trigger) open(false);
  });
  var secondDevice = window.kycEmbed && window.kycEmbed.handoffTab;
  if (isDesktop() && !secondDevice) open(true);
})();
