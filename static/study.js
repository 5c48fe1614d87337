// The lesson page: report study activity to the server. A heartbeat goes every
// data-heartbeat seconds while the page is visible, and one when it is hidden or shown;
// the server credits its own clock between reports, so this script can only report, not
// claim time. Without it the lesson reads the same; only study time is not measured.
(function () {
  "use strict";
  var box = document.getElementById("study-time");
  if (!box) { return; }
  var lesson = box.dataset.lesson;
  var every = (parseInt(box.dataset.heartbeat, 10) || 30) * 1000;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var shown = document.getElementById("study-effective");
  var left = document.getElementById("study-remaining");
  var button = document.getElementById("lesson-complete");
  var timer = null;

  function clock(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function report() {
    fetch("/api/v1/lessons/" + lesson + "/heartbeat", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ visible: document.visibilityState === "visible" })
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (t) {
      if (!t) { return; }
      if (shown) { shown.textContent = clock(t.effective_seconds); }
      if (left) { left.textContent = clock(t.remaining_seconds); }
      if (button && t.remaining_seconds === 0) { button.removeAttribute("aria-disabled"); }
    }).catch(function () {});
  }

  function schedule() {
    if (timer) { clearInterval(timer); timer = null; }
    if (document.visibilityState === "visible") { timer = setInterval(report, every); }
  }

  document.addEventListener("visibilitychange", function () { report(); schedule(); });
  schedule();
}());
