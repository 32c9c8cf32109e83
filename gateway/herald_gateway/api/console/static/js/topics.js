// Topics and subscriptions: Kubernetes Topics and API URL groups from the routing tables,
// each subscription with its endpoint (credentials redacted), policy, state and counters.
import { api } from "./api.js";
import { h, clear, badge, time, table } from "./util.js";

const policy = (d) => Object.entries(d || {}).map(([k, v]) => `${k}: ${v}`).join(", ") || "defaults";
const flow = (f) => (f ? `parallelism ${f.parallelism ?? "∞"}, rate ${f.rate ?? "∞"}/${f.period}s` : "—");

function subscriptionRow(sub) {
  const headers = [...sub.headers, ...sub.secretHeaders.map((n) => `${n} (from Secret)`)].join(", ");
  return [
    h("strong", {}, sub.name), h("span", { class: "mono" }, sub.url), headers || "—", policy(sub.delivery),
    flow(sub.flowControl), badge(sub.paused ? "paused" : "active"), sub.delivered, sub.failed, sub.backlog,
    badge(sub.health), sub.lastError ? `${sub.lastError} (${time(sub.lastErrorAt)})` : "—",
  ];
}

export async function render(main) {
  const list = await api("/console/api/topics");
  const sections = list.map((topic) => h("section", { class: "topic", "data-topic": topic.id },
    h("h2", {}, `${topic.id} `, badge(topic.managedBy === "api" ? "URL group (API)" : "Topic (Kubernetes)"),
      topic.paused ? badge("paused") : null),
    h("p", { class: "muted" }, `Delivery defaults: ${policy(topic.delivery)}`),
    table(["Subscription", "Endpoint", "Headers", "Delivery", "Flow control", "State", "Delivered",
      "Failed", "Backlog", "Health", "Last error"], topic.subscriptions.map(subscriptionRow),
    "No subscriptions.")));
  clear(main, h("h1", {}, "Topics and subscriptions"),
    sections.length ? sections : h("p", { class: "muted empty" }, "No topics yet."));
}
