/* 人工回访: keep the lease on the ticket while this page is open (every 30 s); an agent who
   closes the page or goes away loses it after the lease (90 s).  During a call it asks every
   3 s and, once the call is over, says so and what became of it (no reload: the form keeps what
   the agent typed during the call). */
(function () {
  "use strict";
  var card = document.getElementById("desk-ticket");
  if (!card || !window.fetch) { return; }
  var inCall = !!document.getElementById("desk-in-call");
  function renew() {
    fetch("/desk/" + card.getAttribute("data-item") + "/renew", {
      method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": card.getAttribute("data-csrf")}
    }).then(function (r) {
      if (r.status === 409) { window.location.href = "/desk"; return null; }
      return r.json();
    }).then(function (body) {
      var note = document.getElementById("desk-in-call");
      if (body && inCall && note && !body.call_live) {
        inCall = false;
        note.textContent = "通话已结束" + (body.call_status ? ": " + body.call_status : "") +
          "。请提交回访记录(刷新页面可再次拨打)";
      }
    }).catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(renew, inCall ? 3000 : 30000);
})();
