// An `auto` session, once consent is given: probe what this device can do
// (camera, microphone, MediaRecorder and the types it records) without
// asking for any permission, report it to the portal, which chooses the
// first of the integrator's methods this device can do whose vendor is up
// (POST /v/<token>/route), and reload into that method's page.
// The User-Agent (in-app browsers) is read by the portal from the request.
(function () {
  "use strict";
  var root = document.getElementById("route");
  if (!root) return;
  var url = root.getAttribute("data-route-url");
  var statusLine = document.getElementById("route-status");
  var errorLine = document.getElementById("route-error");
  var retry = document.getElementById("route-retry");
  var handoff = document.getElementById("route-handoff");
  // The recorder's own list (static/js/recording-types.js): what it can record in.
  var MIME_TYPES = window.kycRecordingTypes;

  function recorderTypes() {
    if (!window.MediaRecorder) return [];
    if (typeof MediaRecorder.isTypeSupported !== "function") return ["video/mp4"];
    return MIME_TYPES.filter(function (type) { return MediaRecorder.isTypeSupported(type); });
  }

  // Inside an app's frame a feature works only if the app's <iframe allow> delegates it.
  function framedWithout(feature) {
    var policy = document.permissionsPolicy || document.featurePolicy;
    if (window.parent === window || !policy || typeof policy.allowsFeature !== "function") return false;
    return !policy.allowsFeature(feature);
  }

  function probe() {
    var types = recorderTypes();
    var facts = { camera: false, microphone: false, media_recorder: types.length > 0, recorder_types: types };
    // The device the person continued on (the hand-off): the portal may choose again for it.
    if (root.hasAttribute("data-handoff-device")) facts.handoff = true;
    var media = navigator.mediaDevices;
    if (window.isSecureContext === false || !media || !media.getUserMedia || !media.enumerateDevices) {
      return Promise.resolve(facts);
    }
    // Kinds are listed without a permission prompt (labels stay empty).
    return media.enumerateDevices().then(
      function (devices) {
        devices.forEach(function (device) {
          if (device.kind === "videoinput") facts.camera = true;
          if (device.kind === "audioinput") facts.microphone = true;
        });
        if (framedWithout("camera")) facts.camera = false;
        if (framedWithout("microphone")) facts.microphone = false;
        return facts;
      },
      function () { return facts; }
    );
  }

  function fail(message, code) {
    statusLine.hidden = true;
    errorLine.textContent = message;
    errorLine.hidden = false;
    retry.hidden = false;
    handoff.hidden = code !== "no_method_for_device";
    if (window.kycEmbed) window.kycEmbed.send("error", { code: code || "network" });
  }

  function route() {
    retry.hidden = true;
    errorLine.hidden = true;
    statusLine.hidden = false;
    probe()
      .then(function (facts) {
        return fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(facts),
          cache: "no-store",
        });
      })
      .then(function (response) {
        return response.json().then(function (body) {
          if (response.ok) {
            window.location.reload();
            return;
          }
          var error = (body && body.error) || {};
          fail(error.message || retry.getAttribute("data-failed") || "", error.code);
        });
      })
      .catch(function () { fail(root.getAttribute("data-network-error") || "", "network"); });
  }

  retry.addEventListener("click", route);
  route();
})();
