// 坐席台: the screen-pop over a websocket; reconnects by itself, renders with textContent only (no HTML injection).
(function () {
  "use strict";
  var RISK = { low: "低", medium: "中", high: "高" };
  var STATUS = { received: "已接收", signed: "已签收", contacted: "已联系", closed: "已办结" };

  function cell(row, text) { var td = document.createElement("td"); td.textContent = text == null ? "" : String(text); row.appendChild(td); }
  function fill(id, rows, columns) {
    var body = document.getElementById(id);
    body.textContent = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      columns.forEach(function (c) { cell(tr, typeof c === "function" ? c(r) : r[c]); });
      body.appendChild(tr);
    });
    if (!rows.length) { var tr = document.createElement("tr"); cell(tr, "无"); body.appendChild(tr); }
  }

  function screenPop(m) {
    var pop = document.getElementById("pop");
    pop.hidden = false;
    pop.dataset.uniqueid = m.uniqueid;
    document.getElementById("pop-phone").textContent = m.phone || "未显示号码";
    document.getElementById("pop-name").textContent = m.name || "";
    document.getElementById("pop-repeat").hidden = !(m.repeat && m.repeat.is_repeat);
    document.getElementById("pop-state").textContent = "振铃中: 请接起话机";
    fill("pop-tickets", m.tickets || [], ["ticket_no", "called_at", "category_l1", "title",
      function (t) { return STATUS[t.status] || t.status; }]);
    fill("pop-records", m.records || [], ["created_at", "topic", "emotional_state",
      function (r) { return RISK[r.risk_level] || r.risk_level; }, "next_step"]);
    document.getElementById("record-uniqueid").value = m.uniqueid;
  }

  // The phone stopped ringing and this agent did not take the call: withdraw that pop (only that one).
  function ringEnded(m) {
    var pop = document.getElementById("pop");
    if (pop.dataset.uniqueid !== m.uniqueid) { return; }
    pop.hidden = true;
    pop.dataset.uniqueid = "";
    document.getElementById("pop-state").textContent = "";
    var field = document.getElementById("record-uniqueid");
    if (field.value === m.uniqueid) { field.value = ""; }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/console/ws");
    ws.onmessage = function (event) {
      var m = JSON.parse(event.data);
      if (m.type === "screen_pop") { screenPop(m); }
      else if (m.type === "call_ended") {
        document.getElementById("pop-state").textContent = "通话已结束: 请填写情绪疏导记录";
        document.getElementById("record-uniqueid").value = m.uniqueid;
      } else if (m.type === "ring_ended") { ringEnded(m); }
      else if (m.type === "hello") { document.body.dataset.consoleReady = "1"; }
    };
    ws.onclose = function () { document.body.dataset.consoleReady = ""; setTimeout(connect, 2000); };
  }
  connect();
}());
