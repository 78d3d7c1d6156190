// 语音审核队列 keyboard shortcuts: J/K next/previous item, 1/2/3 pick an answer, P play/pause,
// Enter confirm (answer unchanged) or save the correction (answer changed: a reason is required).
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
    if (changed && !reason.value.trim()) {
      reason.focus();
      reason.setAttribute("placeholder", "答案已改动，请填写更正原因后按 Enter");
      return;
    }
    var button = f.querySelector("button[value=" + (changed ? "correct" : "confirm") + "]");
    if (button && !button.disabled) { f.requestSubmit(button); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" && target.type !== "radio" || target.tagName === "TEXTAREA");
    if (typing) {
      if (event.key === "Enter" && target.name === "reason") { event.preventDefault(); submit(target.form); }
      else if (event.key === "Escape") { target.blur(); items[current].focus(); }
      return;
    }
    var key = event.key.toLowerCase();
    if (key === "enter" && target && /^(A|BUTTON|AUDIO)$/.test(target.tagName)) { return; }  // their own Enter
    if (key === "j") { focusItem(current + 1); event.preventDefault(); }
    else if (key === "k") { focusItem(current - 1); event.preventDefault(); }
    else if (key === "1" || key === "2" || key === "3") {
      var radios = form().querySelectorAll("input[name=intent]");
      var radio = radios[Number(key) - 1];
      if (radio) { radio.checked = true; event.preventDefault(); }
    } else if (key === "p") {
      var audio = items[current].querySelector("audio");
      if (audio) { if (audio.paused) { audio.play(); } else { audio.pause(); } event.preventDefault(); }
    } else if (key === "enter") { submit(form()); event.preventDefault(); }
  });

  items.forEach(function (item, index) {
    item.addEventListener("focusin", function () {
      if (index !== current) { items[current].classList.remove("selected"); current = index; item.classList.add("selected"); }
    });
  });
  focusItem(0);
})();
