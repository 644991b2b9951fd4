// OpenRDS console: confirmations for destructive forms, and the live lag charts (uPlot, fed by
// /console/api/lag once a second). No inline script anywhere: the pages' CSP allows only this file
// and the vendored ones.
"use strict";

(function () {
  const KEEP_SECONDS = 900;
  const POLL_MS = 1000;

  // --- confirmation -----------------------------------------------------------------------------
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("a[data-back]");
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });

  // --- lag charts -------------------------------------------------------------------------------
  function fmtBytes(value) {
    if (value === null || value === undefined) return "-";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let size = value;
    let unit = 0;
    while (size >= 1024 && unit < units.length - 1) {
      size /= 1024;
      unit += 1;
    }
    return unit === 0 ? Math.round(size) + " B" : size.toFixed(1) + " " + units[unit];
  }

  function fmtSeconds(value) {
    if (value === null || value === undefined) return "-";
    return value < 60 ? value.toFixed(1) + " s" : Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  const charts = new Map(); // replica -> {el, plot, data: [t[], bytes[], seconds[]]}
  let since = null;

  function makeChart(el) {
    const width = Math.max(320, Math.min(el.clientWidth || 640, 1100));
    const opts = {
      width: width,
      height: 200,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, bytes: { auto: true, range: (u, min, max) => [0, Math.max(max, 1024)] },
                secs: { auto: true, range: (u, min, max) => [0, Math.max(max, 1)] } },
      series: [
        {},
        { label: "not replayed", scale: "bytes", stroke: "#2563eb", width: 2, value: (u, v) => fmtBytes(v) },
        { label: "behind", scale: "secs", stroke: "#dc2626", width: 1.5, value: (u, v) => fmtSeconds(v) },
      ],
      axes: [
        {},
        { scale: "bytes", size: 80, values: (u, vals) => vals.map(fmtBytes) },
        { scale: "secs", side: 1, size: 60, grid: { show: false }, values: (u, vals) => vals.map((v) => v + " s") },
      ],
    };
    const data = [[], [], []];
    const plot = new window.uPlot(opts, data, el);
    return { el: el, plot: plot, data: data };
  }

  function apply(series) {
    const chart = charts.get(series.replica);
    if (!chart) return;
    const data = chart.data;
    for (let i = 0; i < series.t.length; i++) {
      if (data[0].length && series.t[i] <= data[0][data[0].length - 1]) continue;
      data[0].push(series.t[i]);
      data[1].push(series.bytes[i]);
      data[2].push(series.seconds[i]);
    }
    const oldest = data[0].length ? data[0][data[0].length - 1] - KEEP_SECONDS : 0;
    let cut = 0;
    while (cut < data[0].length && data[0][cut] < oldest) cut += 1;
    if (cut) data.forEach((column) => column.splice(0, cut));
    chart.plot.setData(data);
    chart.el.setAttribute("data-points", String(data[0].length));
    const last = data[0].length - 1;
    const now = document.querySelectorAll('[data-replica-now="' + series.replica + '"]');
    if (last >= 0) {
      now.forEach((el) => { el.textContent = fmtBytes(data[1][last]) + " · " + fmtSeconds(data[2][last]); });
    }
  }

  async function poll() {
    const url = "/console/api/lag" + (since === null ? "" : "?since=" + encodeURIComponent(since));
    try {
      const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (answer.status === 401) {
        window.location.href = "/console/login?next=" + encodeURIComponent(window.location.pathname);
        return;
      }
      if (answer.ok) {
        const body = await answer.json();
        let newest = since;
        for (const series of body.series) {
          apply(series);
          if (series.t.length) newest = Math.max(newest === null ? 0 : newest, series.t[series.t.length - 1]);
        }
        since = newest;
      }
    } catch (err) {
      // The service restarting or the network hiccuping: the next poll tries again.
    }
    window.setTimeout(poll, POLL_MS);
  }

  function start() {
    const elements = document.querySelectorAll(".lag-chart[data-replica]");
    if (!elements.length || !window.uPlot) return;
    elements.forEach((el) => charts.set(el.getAttribute("data-replica"), makeChart(el)));
    poll();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
