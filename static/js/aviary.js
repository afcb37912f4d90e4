// Every page: live updates come back within seconds of a server restart, with a notice
// while they are away, and pushed tables respect what the person is looking at.
(function () {
  "use strict";
  // The ws extension's default backs off up to 64 s between tries.
  htmx.config.wsReconnectDelay = (retry) => Math.min(1000 * Math.pow(2, retry), 4000) * (0.5 + Math.random() / 2);
  document.addEventListener("htmx:wsClose", () => document.body.classList.add("offline"));
  document.addEventListener("htmx:wsOpen", () => document.body.classList.remove("offline"));

  // A pushed #bot-activity holds the newest orders, unfiltered: whoever filters or pages
  // the tables gets their own view fetched instead.
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    if (!event.detail.target || event.detail.target.id !== "bot-activity") return;
    const orders = document.getElementById("bot-orders");
    const fills = document.getElementById("bot-fills");
    const view = {
      status: orders ? orders.dataset.status : "",
      orders_page: orders ? orders.dataset.page : "1",
      fills_page: fills ? fills.dataset.page : "1",
    };
    if (!view.status && view.orders_page === "1" && view.fills_page === "1") return;
    event.detail.shouldSwap = false;
    const query = new URLSearchParams({ part: "activity", ...view });
    htmx.ajax("GET", window.location.pathname + "?" + query, { target: "#bot-activity", swap: "outerHTML" });
  });
})();
