// 回访活动 live view: each server-sent event from /campaigns/{id}/events redraws the counters (in the order
// of a call's life), the progress bar, the stacked outcome bar, the rates so far and the "checked" stamp.
(function () {
  "use strict";
  var box = document.getElementById("campaign-counters");
  if (!box || !window.EventSource) { return; }
  var SVG = "http://www.w3.org/2000/svg";
  var status = document.getElementById("live-status");
  var stateEl = document.getElementById("campaign-state");
  var source = new EventSource(box.getAttribute("data-source"));

  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }

  function tile(key, value, label) {
    var div = document.createElement("div");
    div.className = "counter";
    div.setAttribute("data-key", key);
    var v = document.createElement("div");
    v.className = "value";
    v.textContent = String(value);
    var l = document.createElement("div");
    l.className = "label";
    l.textContent = label;
    div.appendChild(v);
    div.appendChild(l);
    return div;
  }

  function drawBar(segments) {
    var bar = document.getElementById("outcome-bar");
    var legend = document.getElementById("outcome-legend");
    if (!bar || !legend) { return; }
    Array.prototype.slice.call(bar.querySelectorAll("rect[data-key]")).forEach(function (r) { bar.removeChild(r); });
    clear(legend);
    segments.forEach(function (seg) {
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("data-key", seg.key);
      rect.setAttribute("x", seg.x + "%");
      rect.setAttribute("y", "0");
      rect.setAttribute("width", seg.width + "%");
      rect.setAttribute("height", "22");
      rect.setAttribute("fill", seg.colour);
      bar.appendChild(rect);
      var li = document.createElement("li");
      var swatch = document.createElementNS(SVG, "svg");
      swatch.setAttribute("width", "10");
      swatch.setAttribute("height", "10");
      var r = document.createElementNS(SVG, "rect");
      r.setAttribute("width", "10");
      r.setAttribute("height", "10");
      r.setAttribute("fill", seg.colour);
      swatch.appendChild(r);
      li.appendChild(swatch);
      li.appendChild(document.createTextNode(" " + seg.label + " " + seg.count + "（" + seg.percent + "%）"));
      legend.appendChild(li);
    });
  }

  source.onmessage = function (event) {
    var data = JSON.parse(event.data);
    clear(box);
    data.counters.forEach(function (t) { box.appendChild(tile(t.key, t.value, t.label)); });
    var progress = document.getElementById("campaign-progress");
    if (progress) { progress.value = data.progress; }
    var text = document.getElementById("progress-text");
    if (text) { text.textContent = data.progress + "%"; }
    drawBar(data.segments);
    ["response", "solved", "satisfied"].forEach(function (key) {
      var el = document.querySelector("#campaign-rates [data-key=" + key + "] .value");
      if (el) { el.textContent = data.rates[key]; }
    });
    var n = document.getElementById("rates-n");
    if (n) { n.textContent = data.rates.n; }
    if (stateEl) { stateEl.textContent = data.state_label; }
    if (status) { status.textContent = "（实时 · " + data.checked_at + " 检查）"; }
  };
  source.onerror = function () { if (status) { status.textContent = "（连接中断, 正在重连…）"; } };
})();
