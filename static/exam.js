// The exam page: autosave each answer, count down to the server's deadline, keep the navigator
// and flags current, confirm before submitting, and report integrity signals. Without this
// script the page still works: "Save answers" and "Submit" post the whole form.
(function () {
  "use strict";
  var bar = document.getElementById("exam-bar");
  var form = document.getElementById("exam-form");
  if (!bar || !form) { return; }
  var attempt = bar.dataset.attempt;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var status = document.getElementById("exam-save");
  var timer = document.getElementById("exam-timer");
  var offset = Date.parse(bar.dataset.serverTime) - Date.now();
  var deadline = Date.parse(bar.dataset.deadline);
  var submitUntil = Date.parse(bar.dataset.submitUntil);
  var pending = {};

  function api(method, path, body) {
    return fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    });
  }

  function responseOf(fieldset) {
    var type = fieldset.dataset.type;
    var id = fieldset.dataset.question;
    var name = "q" + id;
    if (type === "single_choice" || type === "true_false") {
      var checked = fieldset.querySelector('input[name="' + name + '"]:checked');
      if (!checked) { return null; }
      return type === "true_false" ? checked.value === "true" : checked.value;
    }
    if (type === "multiple_choice") {
      return Array.prototype.map.call(fieldset.querySelectorAll('input[name="' + name + '"]:checked'), function (i) { return i.value; });
    }
    if (type === "numerical") {
      var raw = fieldset.querySelector(".answer-input").value.trim().replace(",", ".");
      if (raw === "") { return null; }
      var n = Number(raw);
      return isFinite(n) ? n : undefined;
    }
    if (type === "matching") {
      var map = {};
      Array.prototype.forEach.call(fieldset.querySelectorAll("select"), function (s) {
        var item = s.name.split(".")[1];
        if (s.value) { map[item] = s.value; }
      });
      return Object.keys(map).length ? map : null;
    }
    var text = fieldset.querySelector(".answer-input");
    return text && text.value.trim() !== "" ? text.value : null;
  }

  function show(message) { if (status) { status.textContent = message; } }

  function save(fieldset) {
    var id = fieldset.dataset.question;
    var value = responseOf(fieldset);
    if (value === undefined) { return; }
    show(form.dataset.msgSaving);
    pending[id] = true;
    api("PUT", "/api/v1/attempts/" + attempt + "/answers/" + id, value).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      delete pending[id];
      var nav = document.getElementById("nav-" + id);
      if (nav) { nav.classList.toggle("answered", value !== null); }
      if (!Object.keys(pending).length) { show(form.dataset.msgSaved); }
    }).catch(function () {
      show(form.dataset.msgFailed);
      setTimeout(function () { save(fieldset); }, 3000);
    });
  }

  var timers = {};
  form.addEventListener("input", function (e) {
    var fieldset = e.target.closest("fieldset.question");
    if (!fieldset) { return; }
    var id = fieldset.dataset.question;
    clearTimeout(timers[id]);
    timers[id] = setTimeout(function () { save(fieldset); }, e.target.type === "text" || e.target.tagName === "TEXTAREA" ? 600 : 0);
  });

  form.addEventListener("click", function (e) {
    var flag = e.target.closest("button.flag");
    if (!flag) { return; }
    var id = flag.dataset.flag;
    var on = flag.getAttribute("aria-pressed") !== "true";
    api("PUT", "/api/v1/attempts/" + attempt + "/flags/" + id, on).then(function (r) {
      if (!r.ok) { return; }
      flag.setAttribute("aria-pressed", on ? "true" : "false");
      var nav = document.getElementById("nav-" + id);
      if (nav) { nav.classList.toggle("flagged", on); }
    });
  });

  form.addEventListener("submit", function (e) {
    var submitter = e.submitter || document.activeElement;
    if (submitter && submitter.value === "submit" && !form.dataset.autoSubmit) {
      var unanswered = form.querySelectorAll(".exam-nav a:not(.answered)").length;
      if (!window.confirm(form.dataset.confirm.replace("{unanswered}", String(unanswered)))) { e.preventDefault(); }
    }
  });

  function tick() {
    var now = Date.now() + offset;
    var left = Math.max(0, deadline - now);
    var minutes = Math.floor(left / 60000);
    var seconds = Math.floor((left % 60000) / 1000);
    if (left > 0) {
      timer.textContent = form.dataset.msgLeft.replace("{time}", minutes + ":" + (seconds < 10 ? "0" : "") + seconds);
      timer.classList.toggle("urgent", left < 5 * 60000);
    } else {
      timer.textContent = form.dataset.msgOver;
      if (now >= submitUntil && !form.dataset.autoSubmit) {
        form.dataset.autoSubmit = "1";
        var action = document.createElement("input");
        action.type = "hidden"; action.name = "action"; action.value = "submit";
        form.appendChild(action);
        form.submit();
        return;
      }
    }
    setTimeout(tick, 1000);
  }
  tick();

  // A signal's answer says how many switches the server counted, and whether the
  // organization's limit submitted the attempt; the page shows both, nothing is hidden.
  var switches = document.getElementById("exam-switches");
  function signal(kind) {
    api("POST", "/api/v1/attempts/" + attempt + "/events", { kind: kind })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (o) {
        if (!o) { return; }
        if (o.submitted) { window.location.href = "/exams/" + attempt + "/result"; return; }
        if (switches && o.max_switches && o.switches > 0) {
          switches.textContent = switches.dataset.text
            .replace("{switches}", o.switches).replace("{max}", o.max_switches);
          switches.hidden = false;
        }
      })
      .catch(function () {});
  }
  document.addEventListener("visibilitychange", function () { if (document.hidden) { signal("visibility_hidden"); } });
  window.addEventListener("blur", function () { signal("focus_lost"); });
  document.addEventListener("copy", function () { signal("copy"); });
  document.addEventListener("paste", function () { signal("paste"); });
})();
