"""The report's inline script: draws every chart as SVG from the data embedded in the page (no network, no library).

Kept as a Python string so that the report is one self-contained file and the package needs no data files. Each
chart gets a title, axes with their units, and a legend; after drawing, each `figure.chart` carries
`data-plot-box` (the plotting area in page pixels: x,y,width,height) so a test can look at exactly those pixels.
"""

SCRIPT = r"""
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var W = 880, H = 300, M = {left: 70, right: 30, top: 58, bottom: 46};

  function el(name, attrs, parent, text) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) { node.setAttribute(key, String(attrs[key])); }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function niceStep(span, count) {
    var raw = span / Math.max(1, count), power = Math.pow(10, Math.floor(Math.log10(raw))), unit = raw / power;
    return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  }

  function fmt(v) {
    if (v === 0) { return "0"; }
    var a = Math.abs(v);
    if (a >= 1e6) { return (v / 1e6).toPrecision(3).replace(/\.?0+$/, "") + "M"; }
    if (a >= 1e4) { return (v / 1e3).toPrecision(3).replace(/\.?0+$/, "") + "k"; }
    if (a >= 1) { return String(Math.round(v * 100) / 100); }
    return v.toPrecision(2);
  }

  function linearScale(lo, hi, a, b) {
    if (hi <= lo) { hi = lo + 1; }
    var f = function (v) { return a + (v - lo) / (hi - lo) * (b - a); };
    var step = niceStep(hi - lo, 5), ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) { ticks.push(t); }
    f.ticks = ticks;
    return f;
  }

  function logScale(lo, hi, a, b) {
    lo = Math.max(lo, 1e-3); if (hi <= lo) { hi = lo * 10; }
    var l0 = Math.floor(Math.log10(lo)), l1 = Math.ceil(Math.log10(hi));
    if (l1 === l0) { l1 += 1; }
    var f = function (v) { return a + (Math.log10(Math.max(v, Math.pow(10, l0))) - l0) / (l1 - l0) * (b - a); };
    var ticks = [];
    for (var p = l0; p <= l1; p++) {
      [1, 2, 5].forEach(function (m) {
        var t = m * Math.pow(10, p);
        if (t <= Math.pow(10, l1) + 1e-9) { ticks.push(t); }
      });
    }
    f.ticks = ticks.length > 12 ? ticks.filter(function (t) { return Math.abs(Math.log10(t) % 1) < 1e-9; }) : ticks;
    f.lo = Math.pow(10, l0); f.hi = Math.pow(10, l1);
    return f;
  }

  function frame(figure, opts) {
    var svg = el("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
                         "aria-label": opts.title}, figure);
    el("rect", {x: 0, y: 0, width: W, height: H, fill: "#ffffff"}, svg);
    el("text", {x: W / 2, y: 20, "text-anchor": "middle", "font-size": 16, "font-weight": "bold"}, svg, opts.title);
    el("text", {x: M.left + (W - M.left - M.right) / 2, y: H - 8, "text-anchor": "middle", "font-size": 12},
       svg, opts.xLabel);
    el("text", {x: 16, y: M.top + (H - M.top - M.bottom) / 2, "text-anchor": "middle", "font-size": 12,
                transform: "rotate(-90 16 " + (M.top + (H - M.top - M.bottom) / 2) + ")"}, svg, opts.yLabel);
    return svg;
  }

  function axes(svg, x, y, xFmt) {
    var x0 = M.left, x1 = W - M.right, y0 = H - M.bottom, y1 = M.top;
    y.ticks.forEach(function (t) {
      var py = y(t);
      el("line", {x1: x0, x2: x1, y1: py, y2: py, stroke: "#e3e3e3"}, svg);
      el("text", {x: x0 - 6, y: py + 4, "text-anchor": "end", "font-size": 11, fill: "#444"}, svg, fmt(t));
    });
    x.ticks.forEach(function (t) {
      var px = x(t);
      el("line", {x1: px, x2: px, y1: y0, y2: y0 + 5, stroke: "#444"}, svg);
      el("text", {x: px, y: y0 + 18, "text-anchor": "middle", "font-size": 11, fill: "#444"}, svg,
         xFmt ? xFmt(t) : fmt(t));
    });
    el("line", {x1: x0, x2: x1, y1: y0, y2: y0, stroke: "#444"}, svg);
    el("line", {x1: x0, x2: x0, y1: y0, y2: y1, stroke: "#444"}, svg);
  }

  function legend(svg, series) {
    var x = M.left;
    series.forEach(function (s) {
      el("rect", {x: x, y: 32, width: 14, height: 10, fill: s.color}, svg);
      var label = el("text", {x: x + 18, y: 41, "font-size": 12}, svg, s.name);
      x += 26 + Math.max(40, s.name.length * 7);
      return label;
    });
  }

  function markDrawn(figure) {
    var r = figure.querySelector("svg").getBoundingClientRect();
    var box = [r.left + window.scrollX + M.left, r.top + window.scrollY + M.top,
               W - M.left - M.right, H - M.top - M.bottom];
    figure.setAttribute("data-plot-box", box.map(Math.round).join(","));
  }

  function lineChart(id, opts) {
    var figure = document.getElementById(id);
    var svg = frame(figure, opts), rows = DATA.timeseries;
    var xs = rows.map(function (r) { return r.second; });
    var maxX = Math.max(1, xs.length ? xs[xs.length - 1] + 1 : 1);
    var values = [];
    opts.series.forEach(function (s) {
      rows.forEach(function (r) { var v = r[s.key]; if (v !== null && v !== undefined) { values.push(v); } });
    });
    var hi = values.reduce(function (a, v) { return Math.max(a, v); }, values.length ? -Infinity : 1);
    var lo = values.reduce(function (a, v) { return Math.min(a, v); }, values.length ? Infinity : 0);
    var x = linearScale(0, maxX, M.left, W - M.right);
    var y = opts.log ? logScale(lo, hi, H - M.bottom, M.top)
                     : linearScale(0, Math.max(hi * 1.08, 1), H - M.bottom, M.top);
    axes(svg, x, y);
    legend(svg, opts.series);
    opts.series.forEach(function (s) {
      var path = "", pen = false;
      rows.forEach(function (r) {
        var v = r[s.key];
        if (v === null || v === undefined) { pen = false; return; }
        var px = x(r.second + 0.5), py = y(v);
        path += (pen ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1);
        pen = true;
      });
      if (path) {
        el("path", {d: path, fill: "none", stroke: s.color, "stroke-width": s.width || 2,
                    "stroke-dasharray": s.dash || "none", "stroke-linejoin": "round"}, svg);
      }
      if (rows.length === 1 && rows[0][s.key] !== null && rows[0][s.key] !== undefined) {
        el("circle", {cx: x(0.5), cy: y(rows[0][s.key]), r: 3, fill: s.color}, svg);
      }
    });
    markDrawn(figure);
  }

  function distributionChart(id, opts) {
    var figure = document.getElementById(id);
    var svg = frame(figure, opts), bins = DATA.distribution;
    var lo = bins.length ? bins[0][0] : 0.1, hi = bins.length ? bins[bins.length - 1][1] : 1;
    var top = bins.reduce(function (a, b) { return Math.max(a, b[2]); }, 1);
    var x = logScale(Math.max(lo, 0.001), hi, M.left, W - M.right);
    var y = linearScale(0, Math.max(top * 1.08, 1), H - M.bottom, M.top);
    axes(svg, x, y, function (t) { return fmt(t); });
    var marks = opts.marks.filter(function (m) { return m.value !== null && m.value !== undefined; });
    legend(svg, [{name: "requests per latency bin", color: "#4e79a7"}].concat(marks));
    bins.forEach(function (b) {
      var px0 = x(Math.max(b[0], x.lo)), px1 = x(b[1]);
      el("rect", {x: px0, y: y(b[2]), width: Math.max(1, px1 - px0 - 1), height: Math.max(0, y(0) - y(b[2])),
                  fill: "#4e79a7"}, svg);
    });
    marks.forEach(function (m) {
      var px = x(Math.max(m.value, x.lo));
      el("line", {x1: px, x2: px, y1: M.top, y2: H - M.bottom, stroke: m.color, "stroke-width": 2,
                  "stroke-dasharray": "5 3"}, svg);
    });
    markDrawn(figure);
  }

  var s = DATA.summary.latency_ms;
  lineChart("chart-rate", {title: "Offered vs achieved rate", xLabel: "time since start (s)",
    yLabel: "requests per second (req/s)", series: [
      {key: "offered", name: "offered (arrivals due)", color: "#9c755f", dash: "6 3"},
      {key: "achieved", name: "achieved (answered)", color: "#4e79a7"},
      {key: "goodput", name: "goodput (2xx)", color: "#59a14f"},
      {key: "dropped", name: "dropped arrivals", color: "#e15759"}]});
  lineChart("chart-limit", {title: "Concurrency: limit vs in flight", xLabel: "time since start (s)",
    yLabel: "requests in flight (count)", series: [
      {key: "limit", name: DATA.limit_label, color: "#f28e2b", dash: "6 3"},
      {key: "in_flight_max", name: "in flight (peak in the second)", color: "#4e79a7"},
      {key: "in_flight", name: "in flight (end of the second)", color: "#76b7b2"}]});
  lineChart("chart-errors", {title: "429s and errors", xLabel: "time since start (s)",
    yLabel: "responses per second (1/s)", series: [
      {key: "rate_limited", name: "429 rate limited", color: "#f28e2b"},
      {key: "server_errors", name: "5xx server errors", color: "#e15759"},
      {key: "other_errors", name: "other errors (4xx, transport, timeouts)", color: "#b07aa1"},
      {key: "dropped", name: "dropped arrivals", color: "#9c755f", dash: "4 3"}]});
  lineChart("chart-latency", {title: "Latency percentiles over time", xLabel: "time since start (s)",
    yLabel: "latency (ms, log scale)", log: true, series: [
      {key: "p50_ms", name: "p50", color: "#59a14f"}, {key: "p90_ms", name: "p90", color: "#4e79a7"},
      {key: "p99_ms", name: "p99", color: "#f28e2b"}, {key: "p99.9_ms", name: "p99.9", color: "#e15759"},
      {key: "max_ms", name: "max", color: "#79706e", dash: "3 3", width: 1}]});
  distributionChart("chart-distribution", {title: "Latency distribution (all requests)",
    xLabel: "latency (ms, log scale)", yLabel: "requests (count)", marks: [
      {name: "p50", value: s.p50, color: "#59a14f"}, {name: "p99", value: s.p99, color: "#f28e2b"},
      {name: "p99.9", value: s["p99.9"], color: "#e15759"}]});
  document.body.setAttribute("data-charts-drawn", String(document.querySelectorAll("[data-plot-box]").length));
})();
"""
