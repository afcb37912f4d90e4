// Every page: live updates come back within seconds of a server restart, with a notice
// while they are away, and pushed tables respect what the person is looking at.
(function () {
  "use strict";
  // The ws extension's default backs off up to 64 s between tries.
  htmx.config.wsReconnectDelay = (retry) => Math.min(1000 * Math.pow(2, retry), 4000) * (0.5 + Math.random() / 2);
  document.addEventListener("htmx:wsClose", () => document.body.classList.add("offline"));
  document.addEventListener("htmx:wsOpen", () => document.body.classList.remove("offline"));

  // Pushed rows (bots/live_news.html) are the newest, unfiltered: they go on top of the
  // first pages. Whoever filters or pages the tables gets their own view fetched instead.
  const NEWS_TARGETS = ["bot-orders-rows", "bot-fills-rows", "bot-events-list"];
  let refetch = null;

  function tablesView() {
    const orders = document.getElementById("bot-orders");
    const fills = document.getElementById("bot-fills");
    return {
      status: orders ? orders.dataset.status : "",
      orders_page: orders ? orders.dataset.page : "1",
      fills_page: fills ? fills.dataset.page : "1",
    };
  }

  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    const target = event.detail.target;
    if (!target || !(NEWS_TARGETS.includes(target.id) || target.id.startsWith("order-"))) return;
    const view = tablesView();
    if (!view.status && view.orders_page === "1" && view.fills_page === "1") return;
    event.detail.shouldSwap = false;
    if (refetch !== null) return;
    refetch = setTimeout(() => {
      refetch = null;
      const query = new URLSearchParams({ part: "activity", ...tablesView() });
      htmx.ajax("GET", window.location.pathname + "?" + query, { target: "#bot-activity", swap: "outerHTML" });
    }, 200);
  });

  // New rows on top: the "nothing yet" line goes, a row the page had already (sent again
  // after a reconnect, or written while the page loaded) leaves its older copy, and the
  // table keeps to one page.
  const rowKey = (row) => row.id || row.dataset.fill || row.dataset.event || null;
  document.addEventListener("htmx:oobAfterSwap", (event) => {
    const target = event.detail.target;
    if (!target || !NEWS_TARGETS.includes(target.id)) return;
    const empty = document.getElementById(target.id.replace(/-(rows|list)$/, "-empty"));
    if (empty) empty.remove();
    const seen = new Set();
    for (const row of Array.from(target.children)) {
      const key = rowKey(row);
      if (key === null) continue;
      if (seen.has(key)) row.remove();
      else seen.add(key);
    }
    const limit = Number(target.dataset.limit || 0);
    while (limit && target.children.length > limit) target.lastElementChild.remove();
  });
})();
