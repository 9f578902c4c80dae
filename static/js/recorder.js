// The recording part of the end-user page (templates/verification/record.html):
// fetch the challenge, open the front camera, count down, record a short
// clip (or take one photo), let the person look at it, upload it with a
// progress bar, then poll the session's status and reload the page on the
// outcome, which the server renders.
//
// Where the camera cannot be used (no camera API, no MediaRecorder, not a
// secure context, WeChat's built-in browser, permission refused, no camera)
// the page explains why and offers a file input that opens the phone's own
// camera app instead.
//
// Every text comes from the template (#recorder-text), in the page's
// language. Testing switch: ?audio_processing=off in the page's URL turns the
// browser's echo cancellation, noise suppression and gain control off.
(function () {
  "use strict";
  var root = document.getElementById("recorder");
  if (!root) return;

  function $(id) { return document.getElementById(id); }
  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  var MODE = root.getAttribute("data-mode") === "photo" ? "photo" : "video";
  var SECONDS = Math.max(1, parseInt(root.getAttribute("data-seconds"), 10) || 6);
  var MAX_BYTES = parseInt(root.getAttribute("data-max-bytes"), 10) || 0;
  var URLS = {
    challenge: root.getAttribute("data-challenge-url"),
    upload: root.getAttribute("data-upload-url"),
    status: root.getAttribute("data-status-url"),
  };
  // The types to ask for, best first (static/js/recording-types.js).
  var MIME_TYPES = window.kycRecordingTypes;
  // About 1 MB for six seconds.
  var VIDEO_BITS_PER_SECOND = 1100000;
  var AUDIO_BITS_PER_SECOND = 64000;
  var COUNTDOWN_FROM = 3;
  // Record a little past the advertised length, so a clip is never short.
  var RECORDING_GRACE_MS = 300;
  // The status poll: every half second while an outcome is due (a vendor
  // answers in a few seconds), so the page shows it within about half a
  // second of the portal recording it; then slower, up to every 2 s. A held
  // request or server-sent events would each keep a web thread per waiting
  // person (docs/benchmarks.md has the measurements behind the choice).
  var POLL_FAST_MS = 500;
  var POLL_FAST_FOR_MS = 20000;
  var POLL_MAX_MS = 2000;
  var POLL_GIVE_UP_MS = 10 * 60 * 1000;
  var FINAL_STATUSES = { passed: true, failed: true, error: true, expired: true };
  // In-app browsers known to refuse the camera to web pages.
  var CAMERA_BLOCKING_APPS = [/MicroMessenger/i];

  var TEXT = {};
  var textSource = $("recorder-text");
  each((textSource.content || textSource).querySelectorAll("[data-text]"), function (el) {
    TEXT[el.getAttribute("data-text")] = el.textContent.trim();
  });
  function t(key) { return TEXT[key] || ""; }

  var el = {
    title: $("recorder-title"),
    retryAdvice: $("retry-advice"),
    cameraStep: root.querySelector('[data-step="camera"]'),
    fallbackStep: root.querySelector('[data-step="fallback"]'),
    fileSection: $("file-section"),
    cameraButton: $("camera-button"),
    unsupported: $("unsupported-reason"),
    challenge: $("challenge"),
    instruction: $("challenge-instruction"),
    value: $("challenge-value"),
    actions: $("challenge-actions"),
    preview: $("preview"),
    countdown: $("countdown"),
    indicator: $("recording-indicator"),
    timer: $("recording-timer"),
    actionNow: $("action-now"),
    elapsedBar: $("elapsed-bar"),
    recordButton: $("record-button"),
    fallbackReason: $("fallback-reason"),
    permissionHelp: $("permission-help"),
    cameraRetry: $("camera-retry-button"),
    fallbackHandoff: $("fallback-handoff"),
    fileInput: $("file-input"),
    reviewVideo: $("review-video"),
    reviewPhoto: $("review-photo"),
    reviewNote: $("review-note"),
    retake: $("retake-button"),
    upload: $("upload-button"),
    progress: $("upload-progress"),
    percent: $("upload-percent"),
    waitingMessage: $("waiting-message"),
    error: $("record-error"),
    errorMessage: $("record-error-message"),
    reload: $("reload-button"),
    status: $("recorder-status"),
  };

  var state = {
    step: "intro",
    challenge: null, // {kind, value}
    stream: null,
    recorder: null, // {recorder, cancel()} while recording
    timers: [],
    clip: null, // {blob, name, capture, url, mimeType}
    // What the browser says about the capture, sent with the upload as
    // `capture_report` (verification/services/capture.py): evidence for a
    // reviewer, never a reason to pass.
    devices: [], // [{kind, label}], labels readable once permission is given
    hiddenCount: 0, // times the page was hidden since the challenge appeared
    hiddenMs: 0,
    hiddenSince: null,
    watching: false,
  };

  // --- small helpers ------------------------------------------------------------------

  function later(fn, ms) {
    var id = setTimeout(fn, ms);
    state.timers.push(id);
    return id;
  }

  function clearTimers() {
    state.timers.forEach(function (id) { clearTimeout(id); clearInterval(id); });
    state.timers = [];
  }

  // Status changes go to an aria-live region, shown under the buttons too,
  // unless quiet (when the same text is already on the screen).
  function announce(text, quiet) {
    el.status.textContent = text || "";
    el.status.classList.toggle("rec-quiet", !!quiet);
  }

  function showError(message, withReload) {
    el.errorMessage.textContent = message;
    el.reload.hidden = !withReload;
    el.error.hidden = false;
    if (el.error.scrollIntoView) el.error.scrollIntoView({ block: "nearest" });
  }

  function clearError() {
    el.error.hidden = true;
    el.errorMessage.textContent = "";
  }

  function focus(node) {
    if (!node) return;
    try { node.focus({ preventScroll: true }); } catch (e) { node.focus(); }
  }

  function showStep(step) {
    state.step = step;
    each(root.querySelectorAll("[data-step]"), function (node) {
      node.hidden = node.getAttribute("data-step") !== step;
    });
    // What to say or do sits above the camera, or above the file input.
    if (step === "camera") el.cameraStep.insertBefore(el.challenge, el.cameraStep.firstChild);
    if (step === "fallback") el.fallbackStep.insertBefore(el.challenge, el.fileSection);
    el.challenge.hidden = !state.challenge || (step !== "camera" && step !== "fallback");
  }

  function errorText(body) {
    // {"error": {"code", "message"}}, or {"error": "message"}.
    if (!body || !body.error) return "";
    if (typeof body.error === "string") return body.error;
    return body.error.message || "";
  }

  function parseJson(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function formatSeconds(s) {
    s = Math.floor(s);
    return Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
  }

  function audioConstraints() {
    if (/[?&]audio_processing=off(?:&|$)/.test(window.location.search)) {
      return { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
    }
    return true;
  }

  function pickMimeType() {
    if (!window.MediaRecorder) return null;
    if (typeof MediaRecorder.isTypeSupported !== "function") return "";
    for (var i = 0; i < MIME_TYPES.length; i++) {
      if (MediaRecorder.isTypeSupported(MIME_TYPES[i])) return MIME_TYPES[i];
    }
    return null;
  }

  function extensionFor(type) {
    if (/mp4/.test(type)) return "mp4";
    if (/webm/.test(type)) return "webm";
    if (/matroska/.test(type)) return "mkv";
    if (/quicktime/.test(type)) return "mov";
    return "mp4";
  }

  // Inside an app's frame the camera works only if the app's <iframe allow>
  // delegates it; Chromium can tell before asking.
  function framedWithoutCamera() {
    var policy = document.permissionsPolicy || document.featurePolicy;
    if (window.parent === window || !policy || typeof policy.allowsFeature !== "function") return false;
    return !policy.allowsFeature("camera") || (MODE === "video" && !policy.allowsFeature("microphone"));
  }

  var HANDOFF_REASONS = ["frame", "wechat", "insecure", "no_camera_api", "no_recorder", "not_found"];

  // Tells an embedding app (static/js/embed.js), if there is one.
  var startedSent = false;
  function notify(type, fields) {
    if (type === "started") {
      if (startedSent) return;
      startedSent = true;
    }
    if (window.kycEmbed) window.kycEmbed.send(type, fields);
  }

  // Why this browser cannot record here, or null when it can.
  function unsupportedReason() {
    var ua = navigator.userAgent || "";
    for (var i = 0; i < CAMERA_BLOCKING_APPS.length; i++) {
      if (CAMERA_BLOCKING_APPS[i].test(ua)) return "wechat";
    }
    if (window.isSecureContext === false) return "insecure";
    if (framedWithoutCamera()) return "frame";
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return "no_camera_api";
    if (MODE === "video" && pickMimeType() === null) return "no_recorder";
    return null;
  }

  var UNSUPPORTED = unsupportedReason();
  if (UNSUPPORTED) {
    el.unsupported.textContent = t("reason." + UNSUPPORTED);
    el.unsupported.hidden = false;
    el.cameraButton.textContent = el.cameraButton.getAttribute("data-label-continue");
  }

  // --- the challenge --------------------------------------------------------------------

  function loadChallenge() {
    // POST: issuing the challenge may start the attempt and ask the vendor for a lip code.
    return fetch(URLS.challenge, { method: "POST", headers: { Accept: "application/json" }, cache: "no-store" }).then(
      function (response) {
        return response.text().then(function (text) {
          var body = parseJson(text);
          if (!response.ok || !body) {
            var failure = new Error(errorText(body) || t("error.server"));
            failure.status = response.status;
            failure.code = body && body.error && body.error.code;
            throw failure;
          }
          state.challenge = { kind: body.kind || "none", value: body.value };
          watchVisibility();
          renderChallenge(false);
        });
      },
      function () {
        var failure = new Error(t("error.network"));
        failure.status = 0;
        throw failure;
      }
    );
  }

  // From the first challenge on: was the page hidden (another app, another
  // tab) while the person was asked to act?
  function watchVisibility() {
    if (state.watching) return;
    state.watching = true;
    if (document.hidden) noteHidden();
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) noteHidden();
      else noteVisible();
    });
  }

  function noteHidden() {
    if (state.hiddenSince !== null) return;
    state.hiddenSince = Date.now();
    state.hiddenCount += 1;
  }

  function noteVisible() {
    if (state.hiddenSince === null) return;
    state.hiddenMs += Date.now() - state.hiddenSince;
    state.hiddenSince = null;
  }

  function noteDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    navigator.mediaDevices.enumerateDevices().then(
      function (devices) {
        state.devices = devices
          .filter(function (d) { return d.kind === "videoinput" || d.kind === "audioinput"; })
          .slice(0, 16)
          .map(function (d) { return { kind: d.kind, label: clipText(d.label || "", 200) }; });
      },
      function () {}
    );
  }

  function clipText(text, most) {
    return String(text).replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, most);
  }

  function whole(n) {
    return typeof n === "number" && isFinite(n) && n >= 0 ? Math.min(Math.round(n), 16384) : null;
  }

  function trackFacts(track) {
    var settings = typeof track.getSettings === "function" ? track.getSettings() : {};
    var rate = settings.frameRate;
    var facing = settings.facingMode || "";
    return {
      kind: track.kind === "audio" ? "audio" : "video",
      label: clipText(track.label || "", 200),
      width: track.kind === "video" ? whole(settings.width) : null,
      height: track.kind === "video" ? whole(settings.height) : null,
      frame_rate: typeof rate === "number" && isFinite(rate) && rate >= 0 ? Math.min(rate, 1000) : null,
      facing_mode: ["user", "environment", "left", "right"].indexOf(facing) >= 0 ? facing : "",
    };
  }

  function captureReport(clip) {
    var hiddenMs = state.hiddenMs + (state.hiddenSince !== null ? Date.now() - state.hiddenSince : 0);
    return JSON.stringify({
      mime_type: clipText(clip.mimeType || clip.blob.type || "", 100),
      devices: state.devices,
      tracks: clip.tracks || [],
      hidden_count: Math.min(state.hiddenCount, 10000),
      hidden_ms: Math.min(Math.round(hiddenMs), 86400000),
    });
  }

  function actionText(action) {
    return t("action." + action) || String(action).replace(/_/g, " ");
  }

  function renderChallenge(forFile) {
    var c = state.challenge;
    el.value.textContent = "";
    el.value.hidden = true;
    el.actions.textContent = "";
    el.actions.hidden = true;
    var prefix = forFile ? "instruction.file." : "instruction.";
    if (c.kind === "lip_code" || c.kind === "digits") {
      el.instruction.textContent = t(prefix + c.kind);
      String(c.value).split("").forEach(function (digit) {
        var span = document.createElement("span");
        span.textContent = digit;
        el.value.appendChild(span);
      });
      el.value.hidden = false;
    } else if (c.kind === "actions") {
      el.instruction.textContent = t(prefix + "actions");
      (c.value || []).forEach(function (action) {
        var item = document.createElement("li");
        item.textContent = actionText(action);
        el.actions.appendChild(item);
      });
      el.actions.hidden = false;
    } else {
      el.instruction.textContent = t(prefix + "none");
    }
  }

  // --- starting: the challenge, then the camera or the file input ----------------------

  function begin() {
    clearError();
    el.cameraButton.disabled = true;
    announce(t("status.loading"));
    loadChallenge().then(
      function () {
        el.cameraButton.disabled = false;
        if (UNSUPPORTED) {
          showFallback(UNSUPPORTED, { retry: false, help: false });
        } else {
          openCamera();
        }
      },
      function (failure) {
        // An `auto` session moved on to its next method: the page shows that one.
        if (failure.code === "method_changed") {
          window.location.reload();
          return;
        }
        // Before consent, no attempt left, link expired: the page itself
        // knows better what to show. Vendor down, network: try again.
        var final = failure.status === 403 || failure.status === 409 || failure.status === 410;
        showStep("intro");
        announce("");
        showError(failure.message, final);
        // The vendor is not answering: the page keeps checking (outage.js).
        if (failure.status === 503 && window.kycOutage) window.kycOutage.watch();
        el.cameraButton.disabled = false;
        el.cameraButton.hidden = final;
        el.cameraButton.textContent = el.cameraButton.getAttribute("data-label-retry");
      }
    );
  }

  function openCamera() {
    clearError();
    announce(t("status.camera_opening"));
    el.cameraRetry.disabled = true;
    var constraints = {
      video: { facingMode: "user", width: { ideal: 480 }, height: { ideal: 640 }, aspectRatio: 0.75 },
      audio: MODE === "video" ? audioConstraints() : false,
    };
    return navigator.mediaDevices.getUserMedia(constraints).then(
      function (stream) {
        el.cameraRetry.disabled = false;
        state.stream = stream;
        el.preview.srcObject = stream;
        var playing = el.preview.play();
        if (playing && playing.catch) playing.catch(function () {});
        stream.getTracks().forEach(function (track) {
          track.addEventListener("ended", function () {
            if (state.stream === stream && (state.step === "camera" || state.recorder)) cameraLost();
          });
        });
        noteDevices();
        renderChallenge(false);
        resetCameraView();
        showStep("camera");
        announce(t("status.camera_ready"));
      },
      function (error) {
        el.cameraRetry.disabled = false;
        cameraFailed(error);
      }
    );
  }

  function cameraFailed(error) {
    var name = (error && error.name) || "";
    if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") {
      showFallback("denied", { retry: true, help: true });
    } else if (name === "NotFoundError" || name === "DevicesNotFoundError") {
      showFallback("not_found", { retry: false, help: false });
    } else if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
      showFallback("busy", { retry: true, help: false });
    } else {
      showFallback("other", { retry: true, help: false });
    }
  }

  function cameraLost() {
    cancelRecording();
    stopStream();
    showFallback("other", { retry: true, help: false });
  }

  function showFallback(reason, how) {
    notify("error", { code: "camera_" + reason });
    // Another device may have what this one lacks (a camera, a browser that
    // may use it); a refused permission is better fixed right here.
    el.fallbackHandoff.hidden = !(window.parent !== window || HANDOFF_REASONS.indexOf(reason) >= 0);
    el.fallbackReason.textContent = t("reason." + reason);
    el.permissionHelp.hidden = !how.help;
    el.cameraRetry.hidden = !how.retry;
    el.fileInput.value = "";
    renderChallenge(true);
    showStep("fallback");
    announce(t("reason." + reason), true);
  }

  function stopStream() {
    if (state.stream) {
      state.stream.getTracks().forEach(function (track) { track.stop(); });
    }
    state.stream = null;
    el.preview.srcObject = null;
  }

  function streamLive() {
    return (
      state.stream &&
      state.stream.getVideoTracks().some(function (track) { return track.readyState === "live"; })
    );
  }

  // --- countdown, recording, photo --------------------------------------------------------

  function resetCameraView() {
    clearTimers();
    root.classList.remove("is-recording");
    document.documentElement.classList.remove("kyc-recording");
    el.recordButton.hidden = false;
    el.recordButton.disabled = false;
    el.countdown.hidden = true;
    el.indicator.hidden = true;
    el.actionNow.hidden = true;
    el.elapsedBar.style.width = "0";
    el.timer.textContent = formatSeconds(0) + " / " + formatSeconds(SECONDS);
  }

  function countdown(then) {
    var n = COUNTDOWN_FROM;
    el.recordButton.hidden = true;
    el.countdown.hidden = false;
    announce(t("status.countdown"));
    (function tick() {
      if (n === 0) {
        el.countdown.hidden = true;
        then();
        return;
      }
      el.countdown.textContent = String(n);
      el.countdown.classList.remove("tick");
      void el.countdown.offsetWidth; // restarts the animation
      el.countdown.classList.add("tick");
      n -= 1;
      later(tick, 1000);
    })();
  }

  // Action checks (eyes closed, head turns): a short tone and, where the
  // device allows, a vibration mark each change of action and the end, so a
  // person with their eyes closed knows when to open them. The audio
  // context is made on the tap that starts the countdown (browsers allow
  // sound only after a gesture).
  var cues = { audio: null };

  function prepareCues() {
    if (cues.audio) return;
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      cues.audio = new Context();
      if (cues.audio.resume) cues.audio.resume();
    } catch (e) {
      cues.audio = null;
    }
  }

  function cue(kind) {
    var ending = kind === "end";
    cues.last = kind;
    if (navigator.vibrate) {
      try { navigator.vibrate(ending ? [120, 80, 120] : 150); } catch (e) { /* not allowed here */ }
    }
    var audio = cues.audio;
    if (!audio) return;
    try {
      [0, ending ? 0.22 : -1].forEach(function (delay) {
        if (delay < 0) return;
        var oscillator = audio.createOscillator();
        var gain = audio.createGain();
        var at = audio.currentTime + delay;
        oscillator.frequency.value = ending ? 660 : 880;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
        oscillator.connect(gain);
        gain.connect(audio.destination);
        oscillator.start(at);
        oscillator.stop(at + 0.2);
      });
    } catch (e) { /* no sound: the vibration and the screen still say it */ }
    root.setAttribute("data-cues", String(Number(root.getAttribute("data-cues") || 0) + 1));
  }

  function startRecording() {
    var type = pickMimeType();
    var options = { videoBitsPerSecond: VIDEO_BITS_PER_SECOND, audioBitsPerSecond: AUDIO_BITS_PER_SECOND };
    if (type) options.mimeType = type;
    var recorder;
    try {
      recorder = new MediaRecorder(state.stream, options);
    } catch (e) {
      try {
        recorder = new MediaRecorder(state.stream);
      } catch (e2) {
        recordingFailed();
        return;
      }
    }
    var chunks = [];
    var cancelled = false;
    var current = {
      recorder: recorder,
      cancel: function () {
        cancelled = true;
        if (recorder.state !== "inactive") {
          try { recorder.stop(); } catch (e) { /* already stopped */ }
        }
      },
    };
    state.recorder = current;
    recorder.ondataavailable = function (event) {
      if (event.data && event.data.size) chunks.push(event.data);
    };
    recorder.onerror = function () {
      if (cancelled) return;
      cancelled = true;
      if (state.recorder === current) state.recorder = null;
      recordingFailed();
    };
    recorder.onstop = function () {
      if (state.recorder === current) state.recorder = null;
      if (cancelled) return;
      var used = (recorder.mimeType || type || (chunks[0] && chunks[0].type) || "video/webm").split(";")[0];
      var blob = new Blob(chunks, { type: used });
      if (!blob.size) {
        recordingFailed();
        return;
      }
      setClip(blob, "recording." + extensionFor(used), "recorder", recorder.mimeType || type || used);
      showReview(t("status.recorded"));
    };
    try {
      recorder.start(1000);
    } catch (e) {
      state.recorder = null;
      recordingFailed();
      return;
    }

    var actions = state.challenge && state.challenge.kind === "actions" ? state.challenge.value || [] : [];
    var started = Date.now();
    root.classList.add("is-recording");
    // No language switch mid-recording: its reload would lose the clip.
    document.documentElement.classList.add("kyc-recording");
    el.indicator.hidden = false;
    notify("started");
    announce(t("status.recording"));
    function update() {
      var elapsed = Math.min(SECONDS, (Date.now() - started) / 1000);
      el.timer.textContent = formatSeconds(elapsed) + " / " + formatSeconds(SECONDS);
      el.elapsedBar.style.width = (100 * elapsed) / SECONDS + "%";
      if (actions.length) {
        var index = Math.min(actions.length - 1, Math.floor(elapsed / (SECONDS / actions.length)));
        var text = actions.length > 1 ? index + 1 + "/" + actions.length + " · " + actionText(actions[index])
          : actionText(actions[index]);
        if (el.actionNow.textContent !== text) {
          el.actionNow.textContent = text;
          announce(actionText(actions[index]), true);
          cue("change");
        }
        el.actionNow.hidden = false;
      }
    }
    update();
    state.timers.push(setInterval(update, 200));
    later(function () {
      update();
      if (actions.length) cue("end");
      if (recorder.state !== "inactive") recorder.stop();
    }, SECONDS * 1000 + RECORDING_GRACE_MS);
  }

  function recordingFailed() {
    state.recorder = null;
    resetCameraView();
    if (streamLive()) {
      showStep("camera");
      showError(t("error.recording"));
    } else {
      stopStream();
      showFallback("other", { retry: true, help: false });
      showError(t("error.recording"));
    }
  }

  // Leaving the page (switching apps) mid-recording spoils the clip.
  function cancelRecording() {
    var recording = state.recorder;
    var counting = !el.countdown.hidden;
    if (!recording && !counting) return false;
    if (recording) recording.cancel();
    state.recorder = null;
    resetCameraView();
    return true;
  }

  function takePhoto() {
    var video = el.preview;
    var width = video.videoWidth;
    var height = video.videoHeight;
    if (!width || !height) {
      resetCameraView();
      showError(t("error.no_video"));
      return;
    }
    // The camera's own size (480×640 or more), with the long side at most 1280.
    var scale = Math.min(1, 1280 / Math.max(width, height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(
      function (blob) {
        if (!blob) {
          resetCameraView();
          showError(t("error.recording"));
          return;
        }
        setClip(blob, "photo.jpg", "recorder", "image/jpeg");
        showReview(t("status.photo_taken"));
      },
      "image/jpeg",
      0.9
    );
  }

  // --- review ---------------------------------------------------------------------------

  function setClip(blob, name, capture, mimeType) {
    notify("started");
    dropClip();
    // The tracks it came from, as they are now (the recording just ended).
    var tracks = capture === "recorder" && state.stream ? state.stream.getTracks().slice(0, 4).map(trackFacts) : [];
    state.clip = {
      blob: blob, name: name, capture: capture, url: URL.createObjectURL(blob),
      mimeType: mimeType || blob.type || "", tracks: tracks,
    };
  }

  function dropClip() {
    if (state.clip && state.clip.url) URL.revokeObjectURL(state.clip.url);
    state.clip = null;
    if (el.reviewVideo) el.reviewVideo.removeAttribute("src");
    if (el.reviewPhoto) el.reviewPhoto.removeAttribute("src");
  }

  function showReview(message) {
    resetCameraView();
    el.reviewNote.hidden = true;
    var media = MODE === "photo" ? el.reviewPhoto : el.reviewVideo;
    media.onerror = function () { el.reviewNote.hidden = false; };
    media.src = state.clip.url;
    if (MODE === "video") el.reviewVideo.load();
    el.upload.disabled = false;
    el.retake.disabled = false;
    showStep("review");
    announce(message);
    focus(el.upload);
  }

  // Back to where the clip came from: the camera, or the file input.
  function again() {
    var fromFile = state.clip && state.clip.capture === "file";
    dropClip();
    if (fromFile || state.step === "fallback" || UNSUPPORTED) {
      el.fileInput.value = "";
      renderChallenge(true);
      showStep("fallback");
      focus(el.fileInput);
    } else if (streamLive()) {
      resetCameraView();
      showStep("camera");
      announce(t("status.camera_ready"));
      focus(el.recordButton);
    } else {
      openCamera();
    }
  }

  function chooseFile() {
    var file = el.fileInput.files && el.fileInput.files[0];
    if (!file) return;
    clearError();
    var expected = MODE === "photo" ? "image/" : "video/";
    if (file.type && file.type.indexOf(expected) !== 0) {
      el.fileInput.value = "";
      showError(t("error.wrong_file"));
      return;
    }
    if (MAX_BYTES && file.size > MAX_BYTES) {
      el.fileInput.value = "";
      showError(t("error.too_large"));
      return;
    }
    setClip(file, file.name || (MODE === "photo" ? "photo.jpg" : "video.mp4"), "file");
    showReview(t("status.file_chosen"));
  }

  // --- upload and waiting ---------------------------------------------------------------

  function setProgress(fraction) {
    var percent = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    el.progress.value = percent;
    el.percent.textContent = percent + "%";
  }

  function upload() {
    var clip = state.clip;
    if (!clip) return;
    clearError();
    if (MAX_BYTES && clip.blob.size > MAX_BYTES) {
      showError(t("error.too_large"));
      return;
    }
    el.upload.disabled = true;
    el.retake.disabled = true;
    var form = new FormData();
    form.append(MODE === "photo" ? "photo" : "video", clip.blob, clip.name);
    form.append("capture", clip.capture);
    form.append("capture_report", captureReport(clip));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", URLS.upload);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable && event.total) setProgress(event.loaded / event.total);
    };
    xhr.onload = function () {
      var body = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) {
        setProgress(1);
        uploaded((body && body.status_url) || URLS.status);
      } else {
        uploadFailed(xhr.status, body);
      }
    };
    xhr.onerror = function () { uploadFailed(0, null); };
    xhr.ontimeout = xhr.onerror;
    setProgress(0);
    showStep("uploading");
    announce(t("status.uploading"));
    xhr.send(form);
  }

  function uploadFailed(status, body) {
    var message = errorText(body) || (status === 0 ? t("error.network") : t("error.server"));
    var code = (body && body.error && body.error.code) || (status === 0 ? "network" : "server");
    // No "Uploading… 37%" left behind a failure.
    setProgress(0);
    announce("");
    notify("error", { code: code });
    if (code === "challenge_expired") {
      // The challenge lives a short while: fetch the new one, record again.
      showStep("uploading");
      loadChallenge().then(
        function () {
          again();
          showError(message);
        },
        function (failure) {
          stopStream();
          dropClip();
          showStep("none");
          showError(failure.message, true);
        }
      );
    } else if (status === 400 || status === 413 || status === 415 || status === 422) {
      // Something about the clip itself (too short, no sound, too large):
      // say what, and record again.
      again();
      showError(message);
    } else if (status === 403 || status === 409 || status === 410) {
      stopStream();
      dropClip();
      showStep("none");
      showError(message, true);
    } else {
      // The network or the server: the same clip can be sent again.
      el.upload.disabled = false;
      el.retake.disabled = false;
      showStep("review");
      showError(message);
    }
  }

  function uploaded(statusUrl) {
    notify("submitted");
    stopStream();
    dropClip();
    el.retryAdvice.hidden = true;
    showStep("waiting");
    announce(t("status.uploaded"));
    var since = Date.now();
    var deadline = since + POLL_GIVE_UP_MS;
    var delay = POLL_FAST_MS;
    function next() {
      if (Date.now() - since > POLL_FAST_FOR_MS) delay = Math.min(POLL_MAX_MS, delay * 1.5);
      return delay;
    }
    function poll() {
      if (Date.now() > deadline) {
        window.location.reload();
        return;
      }
      fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          // "created": an `auto` session moved on to its next method (its vendor was down).
          if (body && (FINAL_STATUSES[body.status] || body.status === "created")) {
            window.location.reload();
            return;
          }
          if (body && body.status === "processing" && body.message) el.waitingMessage.textContent = body.message;
          later(poll, next());
        })
        .catch(function () { later(poll, POLL_MAX_MS * 2); });
    }
    later(poll, POLL_FAST_MS);
  }

  // --- wiring -----------------------------------------------------------------------------

  el.cameraButton.addEventListener("click", begin);
  el.cameraRetry.addEventListener("click", function () {
    clearError();
    openCamera();
  });
  el.recordButton.addEventListener("click", function () {
    if (!streamLive()) {
      openCamera();
      return;
    }
    clearError();
    el.recordButton.disabled = true;
    if (state.challenge && state.challenge.kind === "actions") prepareCues();
    countdown(MODE === "photo" ? takePhoto : startRecording);
  });
  el.retake.addEventListener("click", function () {
    clearError();
    again();
  });
  el.upload.addEventListener("click", upload);
  el.fileInput.addEventListener("change", chooseFile);
  el.reload.addEventListener("click", function () { window.location.reload(); });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden && cancelRecording()) {
      showStep("camera");
      showError(t("error.interrupted"));
    }
  });
  window.addEventListener("pagehide", stopStream);

  // Shown after a failed attempt only when the person asks to try again:
  // that click starts a new attempt, and the recorder takes the place of
  // the old outcome and its button.
  function hide(node) {
    if (!node) return;
    node.hidden = true;
    node.style.display = "none"; // .button sets a display that beats [hidden]
  }

  if (root.hidden) {
    document.addEventListener("click", function (event) {
      var target = event.target;
      var button = target && target.closest ? target.closest("#retry-button") : null;
      if (!button || !root.hidden) return;
      event.preventDefault();
      // The last outcome's advice ("read the numbers slowly") stays in view.
      var advice = $("message");
      if (advice && advice.textContent.trim()) {
        el.retryAdvice.textContent = advice.textContent.trim();
        el.retryAdvice.hidden = false;
      }
      hide(button);
      hide($("result"));
      root.hidden = false;
      focus(el.title);
      window.scrollTo(0, 0);
      begin();
    });
  }
})();
