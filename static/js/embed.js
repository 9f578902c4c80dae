// Tells an app that frames this page what happens, by postMessage to the
// app's origin (one of the API client's allowed origins, never "*"), and
// runs redirect mode when the page is not framed. The page's events come
// from the server as JSON (#embed-config); other scripts add theirs with
// window.kycEmbed.send(type, fields).
(function () {
  "use strict";
  var node = document.getElementById("embed-config");
  if (!node) return;
  var config = JSON.parse(node.textContent);
  var framed = window.parent !== window;
  var handoffKey = "kyc-handoff:" + config.session_id;

  // Chromium and Safari name the parent's origin; elsewhere each allowed
  // origin is addressed and the browser delivers only to the real parent
  // (the page's frame-ancestors policy already keeps every other out).
  function targetOrigins() {
    var origins = config.origins || [];
    var ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length) {
      return origins.indexOf(ancestors[0]) >= 0 ? [ancestors[0]] : [];
    }
    return origins;
  }

  function send(type, fields) {
    if (!framed) return;
    var message = { source: "kyc-portal", type: type, session_id: config.session_id };
    Object.keys(fields || {}).forEach(function (key) { message[key] = fields[key]; });
    targetOrigins().forEach(function (origin) { window.parent.postMessage(message, origin); });
  }

  // A phone that took over from another device keeps that in this tab only:
  // the integrator's app is on the other device, so no redirect here.
  function isHandoffTab() {
    try {
      if (/[?&]via=handoff(?:&|$)/.test(window.location.search)) sessionStorage.setItem(handoffKey, "1");
      return sessionStorage.getItem(handoffKey) === "1";
    } catch (e) {
      return /[?&]via=handoff(?:&|$)/.test(window.location.search);
    }
  }

  function show(id, visible) {
    var el = document.getElementById(id);
    if (el) el.hidden = !visible;
  }

  var handoffTab = isHandoffTab();
  window.kycEmbed = { send: send, framed: framed, targets: targetOrigins, handoffTab: handoffTab };

  config.events.forEach(function (event) {
    var fields = {};
    Object.keys(event).forEach(function (key) { if (key !== "type") fields[key] = event[key]; });
    send(event.type, fields);
  });

  Array.prototype.forEach.call(document.querySelectorAll("form[data-embed-event]"), function (form) {
    form.addEventListener("submit", function () { send(form.dataset.embedEvent); });
  });

  // The page's own reloads (following the status) must not say it again.
  if (/[?&](after|via)=/.test(window.location.search) && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  if (framed) {
    show("return", false);
    Array.prototype.forEach.call(document.querySelectorAll(".framed-only"), function (el) { el.hidden = false; });
  } else if (handoffTab) {
    show("return", false);
    show("handoff-done", config.final);
  } else if (config.redirect_url && config.final) {
    show("return-countdown", true);
    setTimeout(function () { window.location.assign(config.redirect_url); }, 3000);
  }

  var cancel = document.getElementById("cancel-button");
  if (cancel && (framed || (config.redirect_url && !handoffTab))) {
    cancel.hidden = false;
    cancel.addEventListener("click", function () {
      send("cancelled");
      if (framed) {
        cancel.hidden = true;
        show("cancelled-note", true);
      } else {
        window.location.assign(config.redirect_url);
      }
    });
  }
})();
