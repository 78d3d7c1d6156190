// 首页 charts: the department ranking (bars) and the daily trend (lines), from the page's JSON data block.
(function () {
  "use strict";
  var block = document.getElementById("dashboard-data");
  if (!block || !window.echarts) { return; }
  var data = JSON.parse(block.textContent);
  var charts = [];

  var rankingEl = document.getElementById("ranking-chart");
  if (rankingEl) {
    var ranked = data.ranking.filter(function (u) { return u.composite !== null; }).reverse();
    var ranking = echarts.init(rankingEl);
    ranking.setOption({
      animation: false,
      grid: { left: 110, right: 30, top: 10, bottom: 30 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", min: 0, max: 100, name: "分" },
      yAxis: { type: "category", data: ranked.map(function (u) { return u.name; }) },
      series: [{ type: "bar", name: "综合成绩", data: ranked.map(function (u) { return u.composite; }),
                 itemStyle: { color: "#b3261e" }, label: { show: true, position: "right" } }]
    });
    charts.push(ranking);
  }

  var trendEl = document.getElementById("trend-chart");
  if (trendEl) {
    var days = data.trend.map(function (d) { return d.day; });
    // One day is not a line: show it as bars (a lone point would read as a stray dot).
    var kind = days.length < 2 ? "bar" : "line";
    var line = function (name, key) {
      return { type: kind, name: name, connectNulls: true, showSymbol: true, symbolSize: 7,
               data: data.trend.map(function (d) { return d[key]; }) };
    };
    var trend = echarts.init(trendEl);
    trend.setOption({
      animation: false,
      legend: { top: 0 },
      grid: { left: 45, right: 20, top: 35, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: days },
      yAxis: { type: "value", min: 0, max: 100 },
      series: [line("响应率", "response"), line("解决率", "solved"), line("满意率", "satisfied"),
               line("综合成绩", "composite")]
    });
    charts.push(trend);
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
