// 专线大屏: renders what /wall/ws pushes; textContent only.
(function () {
  "use strict";
  var STATUS = { idle: "空闲", ringing: "振铃", in_call: "通话中", paused: "暂停", unavailable: "离线" };
  function mask(p) { return p && p.length > 7 ? p.slice(0, 3) + "****" + p.slice(-4) : (p || "未显示"); }
  function row(body, cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) { var td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
    body.appendChild(tr);
  }
  var waiting = [];
  function renderWaiting() {
    var body = document.getElementById("waiting");
    body.textContent = "";
    var now = Date.now() / 1000;
    waiting.forEach(function (w) { row(body, [mask(w.caller_num), Math.round(w.wait_s + now - w.seen) + " 秒"]); });
    document.getElementById("waiting-count").textContent = String(waiting.length);
  }
  function live(m) {
    var now = Date.now() / 1000;
    waiting = m.waiting.map(function (w) { w.seen = now; return w; });
    renderWaiting();
    var body = document.getElementById("agents");
    body.textContent = "";
    m.agents.forEach(function (a) { row(body, [a.name, STATUS[a.status] || a.status, a.paused_reason || "", String(a.calls_taken)]); });
  }
  function stats(m) {
    document.getElementById("stat-answered").textContent = String(m.answered);
    document.getElementById("stat-abandoned").textContent = String(m.abandoned);
    document.getElementById("stat-early").textContent = String(m.abandoned_before_queue);
    document.getElementById("stat-callback").textContent = String(m.callback_requested);
    document.getElementById("stat-sl").textContent = m.service_level == null ? "–" : Math.round(m.service_level * 100) + "%";
  }
  function alert(m) {
    var list = document.getElementById("alert-list");
    if (list.dataset.any !== "1") { list.textContent = ""; list.dataset.any = "1"; }
    var div = document.createElement("div");
    div.className = "alert-high";
    div.textContent = "高风险: " + m.phone + " · " + m.topic + " · 坐席 " + m.agent + (m.next_step ? " · 下一步: " + m.next_step : "");
    list.insertBefore(div, list.firstChild);
  }
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/wall/ws");
    ws.onmessage = function (e) {
      var m = JSON.parse(e.data);
      if (m.type === "live") live(m); else if (m.type === "stats") stats(m); else if (m.type === "alert") alert(m);
    };
    ws.onclose = function () { setTimeout(connect, 2000); };
  }
  setInterval(renderWaiting, 1000);
  connect();
}());
