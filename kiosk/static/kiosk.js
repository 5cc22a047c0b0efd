// Card events and the idle warning. No inline script anywhere (the CSP forbids it).
(function () {
  "use strict";
  var body = document.body;

  // Card inserted or pulled, session ended: the kiosk says where to go, at once.
  function listen() {
    // The online space has no cards: no event stream (body data-events="off").
    if (body.dataset.events === "off") { return; }
    var source = new EventSource("/events");
    source.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event.go) { window.location.assign(event.go); return; }
      // Something happened while this page was loading: the kiosk's home knows where to go.
      if (String(event.version) !== body.dataset.version) { window.location.assign("/"); }
    };
    source.onerror = function () {
      document.getElementById("offline").hidden = false;
    };
    source.onopen = function () {
      document.getElementById("offline").hidden = true;
    };
  }

  // Idle: warn `warn` seconds before the kiosk ends the session on its own.
  function idle() {
    if (body.dataset.session !== "on") { return; }
    var total = Number(body.dataset.idle) * 1000;
    var warn = Number(body.dataset.warn) * 1000;
    var dialog = document.getElementById("idle-warning");
    var timer = null;
    var end = null;
    function arm() {
      clearTimeout(timer);
      clearTimeout(end);
      dialog.hidden = true;
      timer = setTimeout(function () {
        dialog.hidden = false;
        document.getElementById("idle-continue").focus();
      }, Math.max(total - warn, 1000));
      // Online there is no event stream to say the session ended: the page leaves by
      // itself once the time is up (the server side has ended the visit by then).
      if (body.dataset.events === "off") {
        end = setTimeout(function () { window.location.assign("/"); }, total + 1000);
      }
    }
    document.getElementById("idle-continue").addEventListener("click", function () {
      fetch("/activity", {method: "POST", headers: {"X-CSRFToken": body.dataset.csrf},
                          credentials: "same-origin"}).then(arm, arm);
    });
    arm();
  }

  // A form is sent once: a second tap while the first is on its way does nothing.
  function once() {
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent === "1") { event.preventDefault(); return; }
        form.dataset.sent = "1";
      });
    });
  }

  // A deposit being typed: the kiosk is told what it is (title, category, how many
  // lines), never its text, so that a pulled card can say what was not saved.
  function drafts() {
    var form = document.querySelector("form[data-draft]");
    if (!form) { return; }
    var timer = null;
    function report() {
      var type = form.elements.type_code;
      var option = type ? type.options[type.selectedIndex] : null;
      var typed = 0;
      form.querySelectorAll("input[data-line-name]").forEach(function (input) {
        if (input.value.trim()) { typed += 1; }
      });
      if (form.elements.vaccine && form.elements.vaccine.value.trim()) { typed = 1; }
      var data = new URLSearchParams();
      data.set("title", form.elements.title ? form.elements.title.value : "");
      data.set("category", option ? option.dataset.category : form.dataset.category);
      data.set("lines_typed", String(typed));
      fetch(form.dataset.draft, {method: "POST", body: data, credentials: "same-origin",
                                 headers: {"X-CSRFToken": body.dataset.csrf}});
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(report, 250);
    });
  }

  // The on-screen keypad of a code or PIN field: a tap types a digit where the keyboard
  // would (the field's maxlength holds), and the page hears it as typing. In a form of
  // several such fields (data-keypad), it types into the one last touched; a full field
  // hands over to the next.
  function keypads() {
    document.querySelectorAll(".keypad[data-for]").forEach(function (pad) {
      var field = document.getElementById(pad.dataset.for);
      if (!field) { return; }
      var fields = Array.prototype.slice.call(
        pad.closest("form").querySelectorAll("input[data-keypad]"));
      function aim(next) {
        fields.forEach(function (f) { f.classList.toggle("keypad-target", f === next); });
        field = next;
      }
      fields.forEach(function (f) {
        f.addEventListener("focus", function () { aim(f); });
      });
      if (fields.length > 1) { aim(field); }
      pad.hidden = false;
      pad.addEventListener("click", function (event) {
        var key = event.target.closest("button[data-key]");
        if (!key) { return; }
        var value = field.value;
        var most = field.maxLength > 0 ? field.maxLength : 64;
        if (key.dataset.key === "back") { value = value.slice(0, -1); }
        else if (key.dataset.key === "clear") { value = ""; }
        else if (value.length < most) { value += key.dataset.key; }
        field.value = value;
        field.dispatchEvent(new Event("input", {bubbles: true}));
        var after = fields[fields.indexOf(field) + 1];
        if (after && field.maxLength > 0 && value.length === field.maxLength) { aim(after); }
      });
    });
  }

  // A receipt prints from the page it is shown in (no new tab, no file on the kiosk).
  function printing() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  listen();
  printing();
  idle();
  keypads();
  once();
  drafts();
}());
