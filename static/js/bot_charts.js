// The bot page's charts and the create page's preview chart (lightweight-charts,
// vendored in static/vendor). Data comes from data-url as JSON with prices as strings;
// times are already shifted to the user's time zone by the server, because the library
// draws times as UTC.
(function () {
  "use strict";
  const UP = "#12804a", DOWN = "#c2362b", LEVEL = "#9aa7b6", LINE = "#2457d6";
  // News (fills, orders) reloads the chart at most this often: a busy bot must not keep
  // the server recomputing candles for every fill.
  const RELOAD_AFTER_NEWS_MS = 5000, RELOAD_EVERY_MS = 60000;
  const LC = window.LightweightCharts;
  const COMMON = {
    autoSize: true,
    layout: { background: { color: "#ffffff" }, textColor: "#5d6b7a" },
    grid: { vertLines: { color: "#eef2f7" }, horzLines: { color: "#eef2f7" } },
    timeScale: { timeVisible: true, secondsVisible: false },
    localization: { locale: document.documentElement.lang || "en" },
  };

  function candleChart(box) {
    const chart = LC.createChart(box, COMMON);
    const series = chart.addSeries(LC.CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
    });
    return { chart, series };
  }

  async function getJSON(url) {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      return response.ok ? await response.json() : null;
    } catch (_) {
      return null; // offline or restarting: the next push or the timer tries again
    }
  }

  function priceFormat(decimals) {
    return { type: "price", precision: decimals, minMove: Math.pow(10, -decimals) };
  }

  function numbers(points, keys) {
    return points.map((p) => { const out = { time: p.time }; keys.forEach((k) => { out[k] = Number(p[k]); }); return out; });
  }

  // The create page re-renders its form over htmx on every change: one chart per render.
  let preview = null;
  async function startPreview() {
    if (preview) { preview.chart.remove(); preview = null; }
    const box = document.querySelector('[data-chart="preview"]');
    const linesScript = document.getElementById("preview-lines");
    if (!box || !linesScript) return;
    const drawn = { ...candleChart(box), box };
    preview = drawn;
    JSON.parse(linesScript.textContent).forEach((line) => drawn.series.createPriceLine({
      price: Number(line.price), color: line.side === "sell" ? DOWN : UP, lineWidth: 1,
      lineStyle: LC.LineStyle.Dashed, axisLabelVisible: true, title: line.title,
    }));
    const data = await getJSON(box.dataset.url);
    if (!data || preview !== drawn) return;
    drawn.series.applyOptions({ priceFormat: priceFormat(data.precision) });
    drawn.series.setData(numbers(data.candles, ["open", "high", "low", "close"]));
    box.dataset.loaded = String(data.candles.length);
  }

  function startBotCharts() {
    const section = document.getElementById("bot-charts");
    if (!section) return;
    const { series: candles } = candleChart(section.querySelector('[data-chart="price"]'));
    const markers = LC.createSeriesMarkers(candles, []);
    const equityBox = section.querySelector('[data-chart="equity"]');
    const equity = LC.createChart(equityBox, COMMON).addSeries(LC.BaselineSeries, { baseValue: { type: "price", price: 0 } });
    const spreadBox = section.querySelector('[data-chart="spread"]');
    const spread = spreadBox ? LC.createChart(spreadBox, COMMON).addSeries(LC.LineSeries, { color: LINE }) : null;
    const errorBox = section.querySelector("[data-chart-error]");
    let symbol = null, lines = [], last = null, offset = 0, pending = null;

    function drawLines(data) {
      lines.forEach((line) => candles.removePriceLine(line));
      lines = data.levels.map((level) => candles.createPriceLine({
        price: Number(level), color: LEVEL, lineWidth: 1, lineStyle: LC.LineStyle.Dotted, axisLabelVisible: false,
      })).concat(data.orders.map((order) => candles.createPriceLine({
        price: Number(order.price), color: order.side === "buy" ? UP : DOWN, lineWidth: 1,
        lineStyle: LC.LineStyle.Dashed, axisLabelVisible: true, title: order.side + " " + order.amount,
      })));
    }

    async function load() {
      pending = null;
      const url = new URL(section.dataset.url, window.location.href);
      if (symbol) url.searchParams.set("symbol", symbol);
      const data = await getJSON(url);
      if (!data) return;
      offset = data.tz_offset;
      candles.applyOptions({ priceFormat: priceFormat(data.precision) });
      const bars = numbers(data.candles, ["open", "high", "low", "close"]);
      candles.setData(bars);
      last = bars.length ? bars[bars.length - 1] : null;
      markers.setMarkers(data.markers.map((m) => ({
        time: m.time, position: m.side === "buy" ? "belowBar" : "aboveBar", color: m.side === "buy" ? UP : DOWN,
        shape: m.side === "buy" ? "arrowUp" : "arrowDown", text: m.text,
      })));
      drawLines(data);
      equity.setData(numbers(data.equity, ["value"]));
      if (spread) spread.setData(numbers(data.spread, ["value"]));
      errorBox.hidden = !data.error;
      errorBox.textContent = data.error;
      section.dataset.loaded = String(Date.now());
    }

    function reloadSoon() {
      if (pending !== null) return;
      const since = Date.now() - Number(section.dataset.loaded || 0);
      pending = setTimeout(load, Math.max(0, RELOAD_AFTER_NEWS_MS - since));
    }

    // A pushed status moves the last candle with the price, between reloads.
    function follow(statusBox) {
      const text = statusBox.querySelector('[data-field="last_price"]');
      const value = text ? Number(text.textContent.replace(/[^0-9.\-]/g, "")) : NaN;
      if (!last || !isFinite(value) || value <= 0 || symbol !== null && symbol !== section.dataset.first) return;
      const minute = Math.floor((Date.now() / 1000 + offset) / 60) * 60;
      if (minute > last.time) last = { time: minute, open: last.close, high: value, low: value, close: value };
      else last = { ...last, high: Math.max(last.high, value), low: Math.min(last.low, value), close: value };
      candles.update(last);
    }

    document.body.addEventListener("htmx:oobAfterSwap", (event) => {
      const target = event.detail && event.detail.target;
      if (!target) return;
      if (target.id === "bot-fills-rows" || target.id === "bot-orders-rows" || target.id.startsWith("order-")) reloadSoon();
      else if (target.id === "bot-status") follow(target);
    });
    section.querySelectorAll("[data-symbol]").forEach((button) => button.addEventListener("click", () => {
      section.querySelectorAll("[data-symbol]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      symbol = button.dataset.symbol;
      load();
    }));
    const first = section.querySelector("[data-symbol]");
    section.dataset.first = first ? first.dataset.symbol : "";
    setInterval(load, RELOAD_EVERY_MS);
    load();
  }

  function start() {
    if (!LC) return;
    startBotCharts();
    startPreview();
    document.body.addEventListener("htmx:afterSettle", () => {
      const box = document.querySelector('[data-chart="preview"]');
      if (box !== (preview ? preview.box : null)) startPreview();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
