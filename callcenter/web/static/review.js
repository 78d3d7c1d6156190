// 语音审核队列 keyboard shortcuts: J/K next/previous item, 1/2/3 pick an answer, P play/pause, N 无需收听,
// Ctrl+Enter confirm (answer unchanged) or save the correction (answer changed: a reason is required).
// A bare Enter never submits: a stray key must not confirm an answer nobody listened to.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".review-item"));
  if (!items.length) { return; }
  var current = 0;

  function focusItem(index) {
    if (index < 0 || index >= items.length) { return; }
    items[current].classList.remove("selected");
    current = index;
    items[current].classList.add("selected");
    items[current].focus({ preventScroll: false });
    items[current].scrollIntoView({ block: "nearest" });
  }

  function form() { return items[current].querySelector("form.correct-form"); }

  function submit(f) {
    var picked = f.querySelector("input[name=intent]:checked");
    var original = f.getAttribute("data-original");
    var reason = f.querySelector("input[name=reason]");
    var changed = picked && picked.value !== original;
    var noListen = f.querySelector("input[name=no_listen]");
    var audio = f.closest(".review-item") && f.closest(".review-item").querySelector("audio");
    if (!changed && audio && !audio.dataset.played && noListen && !(noListen.checked &&
        f.querySelector("input[name=no_listen_reason]").value.trim())) {
      var why = f.querySelector("input[name=no_listen_reason]");
      why.setAttribute("placeholder", "请先按 P 播放录音，或勾选无需收听并写明理由");
      why.focus();
      return;
    }
    if (changed && !reason.value.trim()) {
      reason.focus();
      reason.setAttribute("placeholder", "答案已改动，请填写更正原因后按 Ctrl+Enter");
      return;
    }
    var button = f.querySelector("button[value=" + (changed ? "correct" : "confirm") + "]");
    if (button && !button.disabled) { f.requestSubmit(button); }
  }

  items.forEach(function (item) {
    var audio = item.querySelector("audio");
    if (audio) { audio.addEventListener("play", function () { audio.dataset.played = "1"; }); }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var inForm = target && target.form && target.form.classList.contains("correct-form");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var f = inForm ? target.form : form();
      event.preventDefault();
      submit(f);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var typing = target && (target.tagName === "INPUT" && target.type !== "radio" && target.type !== "checkbox" ||
                            target.tagName === "TEXTAREA");
    if (event.key === "Enter" && inForm && target.tagName === "INPUT") { event.preventDefault(); return; }
    if (typing) {
      if (event.key === "Escape") { target.blur(); items[current].focus(); }
      return;
    }
    var key = event.key.toLowerCase();
    if (key === "enter") { return; }           // deliberate only: Ctrl+Enter submits
    if (key === "n") {
      var box = form().querySelector("input[name=no_listen]");
      if (box) { box.checked = true; form().querySelector("input[name=no_listen_reason]").focus(); event.preventDefault(); }
      return;
    }
    if (key === "j") { focusItem(current + 1); event.preventDefault(); }
    else if (key === "k") { focusItem(current - 1); event.preventDefault(); }
    else if (key === "1" || key === "2" || key === "3") {
      var radios = form().querySelectorAll("input[name=intent]");
      var radio = radios[Number(key) - 1];
      if (radio) { radio.checked = true; event.preventDefault(); }
    } else if (key === "p") {
      var audio = items[current].querySelector("audio");
      if (audio) { if (audio.paused) { audio.play(); } else { audio.pause(); } event.preventDefault(); }
    }
  });

  items.forEach(function (item, index) {
    item.addEventListener("focusin", function () {
      if (index !== current) { items[current].classList.remove("selected"); current = index; item.classList.add("selected"); }
    });
  });
  focusItem(0);
})();
