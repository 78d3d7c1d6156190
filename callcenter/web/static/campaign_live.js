// 回访活动 live counters: server-sent events from /campaigns/{id}/events replace the counter tiles.
(function () {
  "use strict";
  var box = document.getElementById("campaign-counters");
  if (!box || !window.EventSource) { return; }
  var labels = JSON.parse(box.getAttribute("data-labels"));
  var status = document.getElementById("live-status");
  var stateEl = document.getElementById("campaign-state");
  var source = new EventSource(box.getAttribute("data-source"));

  function tile(key, value) {
    var div = document.createElement("div");
    div.className = "counter";
    div.setAttribute("data-key", key);
    var v = document.createElement("div");
    v.className = "value";
    v.textContent = String(value);
    var l = document.createElement("div");
    l.className = "label";
    l.textContent = labels[key] || key;
    div.appendChild(v);
    div.appendChild(l);
    return div;
  }

  source.onmessage = function (event) {
    var data = JSON.parse(event.data);
    while (box.firstChild) { box.removeChild(box.firstChild); }
    Object.keys(data.counts).forEach(function (key) { box.appendChild(tile(key, data.counts[key])); });
    if (stateEl) { stateEl.textContent = data.state_label; }
    if (status) { status.textContent = "（实时 · " + new Date().toLocaleTimeString("zh-CN") + " 更新）"; }
  };
  source.onerror = function () { if (status) { status.textContent = "（连接中断, 正在重连…）"; } };
})();
