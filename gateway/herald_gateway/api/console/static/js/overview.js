// Overview: activity charts from Herald's own counters, backlog, DLQ size and the
// destinations failing most; refreshed every few seconds.
import { api } from "./api.js";
import { h, clear, chart, age, time, table, errorBox } from "./util.js";

const SERIES = [
  ["CREATED", "Publishes / s"],
  ["DELIVERED", "Deliveries / s"],
  ["ERROR", "Failed attempts / s"],
  ["FAILED", "Dead-lettered / s"],
];

function card(label, value, graph, id) {
  return h("div", { class: "card", id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), graph);
}

function activityCards(activity) {
  const seconds = activity.bucketMs / 1000;
  return SERIES.map(([state, label]) => {
    const values = activity.series[state].map((n) => n / seconds);
    const total = activity.series[state].reduce((a, b) => a + b, 0);
    const latest = values[values.length - 1] || 0;
    return card(label, `${latest.toFixed(1)} (${total} in window)`, chart(values, label), `card-${state}`);
  });
}

export async function render(main, ctx) {
  const windowSelect = h("select", { id: "window", onchange: () => load() },
    ["15m", "1h", "6h", "24h"].map((w) => h("option", { value: w }, `last ${w}`)));
  const body = h("div", { id: "overview" });
  const backlogHistory = [];
  clear(main, h("div", { class: "row" }, h("h1", {}, "Overview"), windowSelect), body);

  async function load() {
    let data;
    try { data = await api("/console/api/overview", { query: { window: windowSelect.value } }); }
    catch (e) { return clear(body, errorBox(e)); }
    const parts = [];
    if (data.activity) {
      parts.push(h("h2", {}, "Activity"), h("div", { class: "cards" }, activityCards(data.activity)));
      const b = data.backlog;
      backlogHistory.push(b.waiting);
      if (backlogHistory.length > 120) backlogHistory.shift();
      parts.push(h("h2", {}, "Backlog"), h("div", { class: "cards" },
        card("Waiting (incl. delayed)", b.waiting, chart(backlogHistory, "backlog while this page is open"), "card-backlog"),
        card("In flight", b.inFlight, null, "card-inflight"),
        card("Oldest due, waiting for", age(b.oldestAgeMs), null, "card-oldest"),
        card("Dead letters", b.deadLetters, null, "card-dlq")));
    }
    const s = data.subscriptions;
    parts.push(h("h2", {}, ctx.session.admin ? "Subscriptions" : `Subscriptions of namespace ${ctx.session.namespace}`),
      h("div", { class: "cards" }, card("Subscriptions", s.count, null, "card-subs"),
        card("Delivered", s.delivered), card("Failed for good", s.failed), card("Backlog", s.backlog)));
    parts.push(h("h2", {}, "Top failing destinations"),
      table(["Destination", "Failed attempts", "Dead-lettered", "Last error", "When"],
        data.failing.map((f) => [f.destination, f.errors, f.deadLettered, f.lastError, time(f.lastAt)]),
        "No failures in this window."));
    clear(body, parts);
  }

  await load();
  const timer = setInterval(load, 5000);
  return () => clearInterval(timer);
}
