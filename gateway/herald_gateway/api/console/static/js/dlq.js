// Dead letters: list with filters, inspect one (body, headers, last response), retry one,
// the selected or all matching, and delete — each after a confirmation.
import { api } from "./api.js";
import { h, clear, time, table, errorBox, bodyView, headersView, confirmed } from "./util.js";

const FILTERS = [["topicName", "Topic"], ["url", "URL"], ["responseStatus", "Response status"],
  ["messageId", "Message id"], ["label", "Label"]];

async function inspect(main, id) {
  const d = await api(`/v2/dlq/${encodeURIComponent(id)}`);
  clear(main, h("p", {}, h("a", { href: "#/dlq" }, "← Dead letters")), h("h1", {}, `Dead letter ${id}`),
    h("div", { class: "row" },
      h("button", { class: "primary action", id: "retry-one", type: "button", onclick: async () => {
        if (!confirmed(`Retry ${id} as a new message?`)) return;
        const r = await api(`/v2/dlq/retry/${encodeURIComponent(id)}`, { method: "POST" });
        location.hash = `#/messages/${encodeURIComponent(r.messageId)}`;
      } }, "Retry"),
      h("button", { class: "danger action", type: "button", onclick: async () => {
        if (!confirmed(`Delete ${id} for good?`)) return;
        await api(`/v2/dlq/${encodeURIComponent(id)}`, { method: "DELETE" });
        location.hash = "#/dlq";
      } }, "Delete")),
    table(["Field", "Value"], [["Message", h("a", { href: `#/messages/${d.messageId}`, class: "mono" }, d.messageId)],
      ["URL", h("span", { class: "mono" }, d.url)], ["Topic", d.topicName || "—"], ["Failed at", time(d.createdAt)],
      ["Response status", d.responseStatus || "—"], ["Error", d.error || "—"]]),
    h("h2", {}, "Body"), d.bodyBase64 !== undefined ? bodyView(d.bodyBase64, true) : bodyView(d.body, false),
    h("h2", {}, "Headers"), headersView(d.header),
    h("h2", {}, "Last response"), headersView(d.responseHeader),
    d.responseBodyBase64 !== undefined ? bodyView(d.responseBodyBase64, true) : bodyView(d.responseBody, false));
}

export async function render(main, ctx, id) {
  if (id) return inspect(main, id);
  const inputs = Object.fromEntries(FILTERS.map(([name, label]) => [name, h("input", { name, placeholder: label })]));
  const filters = () => Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value.trim()]));
  const list = h("div", { id: "dlq-list" });
  const status = h("p", { class: "muted", id: "dlq-status" });
  let selected = new Set();

  async function load() {
    selected = new Set();
    try {
      const page = await api("/v2/dlq", { query: { ...filters(), count: 100 } });
      clear(list, table(["", "Dead letter", "Message", "URL", "Topic", "Status", "Failed at", ""],
        page.messages.map((d) => h("tr", { class: "dlq-row", "data-dlq": d.dlqId, "data-message": d.messageId },
          [h("input", { type: "checkbox", class: "action", onchange: (e) => (e.target.checked ? selected.add(d.dlqId) : selected.delete(d.dlqId)) }),
            h("a", { href: `#/dlq/${encodeURIComponent(d.dlqId)}`, class: "mono" }, d.dlqId),
            h("span", { class: "mono" }, d.messageId), h("span", { class: "mono" }, d.url), d.topicName || "—",
            d.responseStatus || "—", time(d.createdAt),
            h("button", { type: "button", class: "retry action", onclick: () => retry([d.dlqId]) }, "Retry")]
            .map((c) => h("td", {}, c)))), "No dead letters match."));
    } catch (e) { clear(list, errorBox(e)); }
  }

  async function retry(ids) {
    if (!ids.length || !confirmed(`Retry ${ids.length} dead letter(s) as new messages?`)) return;
    const r = await api("/v2/dlq/retry", { method: "POST", json: { dlqIds: ids } });
    status.textContent = `Retried ${r.responses.length}.`;
    load();
  }

  async function retryAll() {
    if (!confirmed("Retry every dead letter matching the filters?")) return;
    let cursor, total = 0;
    for (let i = 0; i < 1000; i++) {
      const r = await api("/v2/dlq/retry", { method: "POST", query: { ...filters(), cursor } });
      total += r.responses.length;
      cursor = r.cursor;
      if (!cursor) break;
    }
    status.textContent = `Retried ${total}.`;
    load();
  }

  async function remove() {
    const ids = [...selected];
    if (!ids.length || !confirmed(`Delete ${ids.length} dead letter(s) for good?`)) return;
    const r = await api("/v2/dlq", { method: "DELETE", json: { dlqIds: ids } });
    status.textContent = `Deleted ${r.deleted}.`;
    load();
  }

  clear(main, h("h1", {}, "Dead letters"),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } }, Object.values(inputs),
      h("button", { type: "submit" }, "Filter")),
    h("div", { class: "row action" },
      h("button", { type: "button", id: "retry-selected", onclick: () => retry([...selected]) }, "Retry selected"),
      h("button", { type: "button", id: "retry-all", onclick: retryAll }, "Retry all matching"),
      h("button", { type: "button", class: "danger", id: "delete-selected", onclick: remove }, "Delete selected")),
    status, list);
  await load();
}
