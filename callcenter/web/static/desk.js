/* 人工回访: keep the lease on the ticket while this page is open (every 30 s); an agent who
   closes the page or goes away loses it after the lease (90 s). */
(function () {
  "use strict";
  var card = document.getElementById("desk-ticket");
  if (!card || !window.fetch) { return; }
  function renew() {
    fetch("/desk/" + card.getAttribute("data-item") + "/renew", {
      method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": card.getAttribute("data-csrf")}
    }).then(function (r) {
      if (r.status === 409) { window.location.href = "/desk"; }
    }).catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(renew, 30000);
})();
