// A session's page shows its state as it was when served. Browsers may
// show a page again from the back-forward cache (Safari does even with
// Cache-Control: no-store): then it would show the camera after the person
// left it, or an old step after the result. Load it afresh instead.
(function () {
  "use strict";
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });
})();
