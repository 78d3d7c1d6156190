/* The top bar's bell: polls the unread alert count; on the dashboard it also refreshes the
   list of tickets waiting for 签收, so new tickets appear without a reload. */
(function () {
  "use strict";
  var bell = document.getElementById("bell");
  if (!bell || !window.fetch) { return; }
  var count = bell.querySelector(".bell-count");
  var list = document.getElementById("awaiting-sign");
  function localTime(iso) {
    if (!iso) { return ""; }
    return new Date(iso).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
                                                   hour: "2-digit", minute: "2-digit"});
  }
  function show(data) {
    count.textContent = data.unread > 0 ? String(data.unread) : "";
    bell.classList.toggle("bell-on", data.unread > 0);
    if (!list) { return; }
    list.textContent = "";
    data.awaiting_sign.forEach(function (t) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/tickets/" + t.id;
      a.textContent = t.ticket_no;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" " + t.category_l1 + " · " + t.title + " · 签收时限 " + localTime(t.sign_due_at)));
      list.appendChild(li);
    });
  }
  function poll() {
    fetch(bell.getAttribute("data-source"), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { show(data); } })
      .catch(function () {})
      .then(function () { window.setTimeout(poll, 15000); });
  }
  poll();
}());
