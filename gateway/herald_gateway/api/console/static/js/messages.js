// Messages and logs: the event log with the API's filters, a live tail (server-sent
// events), and one message's whole history with its attempts; cancel a waiting message.
import { api, stream } from "./api.js";
import { h, clear, badge, time, table, errorBox, bodyView, headersView, confirmed } from "./util.js";

const FILTERS = [["state", "State"], ["messageId", "Message id"], ["topicName", "Topic"],
  ["url", "URL"], ["label", "Label"], ["queueName", "Queue"], ["scheduleId", "Schedule"]];

const idLink = (id) => h("a", { href: `#/messages/${encodeURIComponent(id)}`, class: "mono" }, id);

function logRow(row) {
  return h("tr", { class: "log-row", "data-message": row.messageId, "data-state": row.state },
    [time(row.time), badge(row.state), idLink(row.messageId), row.topicName || "—",
      h("span", { class: "mono" }, row.url), row.responseStatus ?? "—", row.error || ""]
      .map((c) => h("td", {}, c)));
}
const COLUMNS = ["Time", "State", "Message", "Topic", "URL", "Status", "Error"];

function logList(section) {
  const inputs = Object.fromEntries(FILTERS.map(([name, label]) => [name, h("input", { name, placeholder: label })]));
  const rows = h("div", { id: "log-rows" });
  let cursor = null;
  const more = h("button", { type: "button", hidden: true, onclick: () => load(true) }, "Older");
  async function load(next) {
    const query = { count: 50, cursor: next ? cursor : undefined };
    for (const [name, input] of Object.entries(inputs)) query[name] = input.value.trim();
    try {
      const page = await api("/v2/logs", { query });
      const list = page.events.map(logRow);
      if (next && rows.querySelector("tbody")) rows.querySelector("tbody").append(...list);
      else clear(rows, table(COLUMNS, list, "No log rows match."));
      cursor = page.cursor || null;
      more.hidden = !cursor;
    } catch (e) { clear(rows, errorBox(e)); }
  }
  const form = h("form", { class: "filters", id: "log-filters", onsubmit: (e) => { e.preventDefault(); load(false); } },
    Object.values(inputs), h("button", { type: "submit" }, "Filter"));
  section.append(h("h2", {}, "Event log"), form, rows, more);
  load(false);
}

function liveTail(section) {
  const status = h("span", { id: "tail-status", class: "muted" }, "stopped");
  const filter = h("input", { id: "tail-filter", placeholder: "show rows containing…" });
  const body = h("tbody", {});
  const rows = h("table", { id: "tail-rows" }, h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", {}, c)))), body);
  let controller = null;
  const toggle = h("button", { id: "tail-toggle", type: "button", onclick: () => (controller ? stop() : start()) }, "Start");
  function start() {
    controller = new AbortController();
    toggle.textContent = "Stop";
    status.textContent = "connecting…";
    stream("/console/api/tail", (name, row) => {
      if (name === "ready") { status.textContent = "live"; return; }
      if (filter.value && !JSON.stringify(row).includes(filter.value)) return;
      body.prepend(logRow(row));
      while (body.children.length > 500) body.lastChild.remove();
    }, controller.signal).catch((e) => { if (e.name !== "AbortError") status.textContent = `stopped: ${e.message}`; });
  }
  function stop() {
    if (controller) controller.abort();
    controller = null;
    toggle.textContent = "Start";
    status.textContent = "stopped";
  }
  section.append(h("h2", {}, "Live tail"), h("div", { class: "row" }, toggle, status, filter), rows);
  start();
  return stop;
}

// Latency of an attempt: from its ACTIVE row to the row that ended it.
function attempts(history) {
  let started = null;
  return history.map((row) => {
    if (row.state === "ACTIVE") started = row.time;
    const ended = ["DELIVERED", "ERROR"].includes(row.state) && started !== null;
    const latency = ended ? `${row.time - started} ms` : "";
    if (ended) started = null;
    return h("tr", { class: "history-row", "data-state": row.state },
      [time(row.time), badge(row.state), row.retried, row.responseStatus ?? "", latency, row.error || "",
        row.responseBody ? bodyView(row.responseBody, true) : ""].map((c) => h("td", {}, c)));
  });
}

async function detail(main, id) {
  const box = h("div", {});
  clear(main, h("p", {}, h("a", { href: "#/messages" }, "← Messages")), h("h1", {}, `Message ${id}`), box);
  const [message, page] = await Promise.all([
    api(`/v2/messages/${encodeURIComponent(id)}`).catch(() => null),
    api("/v2/logs", { query: { messageId: id, count: 1000 } }),
  ]);
  const history = page.events.slice().reverse();
  const parts = [];
  if (message) {
    parts.push(h("div", { class: "row" }, h("span", {}, "Waiting for delivery to "), h("span", { class: "mono" }, message.url),
      h("button", { class: "danger action", id: "cancel", type: "button", onclick: async () => {
        if (!confirmed(`Cancel message ${id}? It will not be delivered.`)) return;
        await api(`/v2/messages/${encodeURIComponent(id)}`, { method: "DELETE" });
        detail(main, id);
      } }, "Cancel")));
    parts.push(h("h2", {}, "Headers"), headersView(message.header), h("h2", {}, "Body"),
      message.bodyBase64 !== undefined ? bodyView(message.bodyBase64, true) : bodyView(message.body, false));
  } else if (history.length) {
    const created = history.find((r) => r.state === "CREATED") || history[0];
    parts.push(h("p", { class: "muted" }, "No longer waiting (delivered, failed or cancelled)."),
      h("h2", {}, "Headers"), headersView(created.header),
      h("h2", {}, "Body"), created.body !== undefined ? bodyView(created.body, true) : h("p", { class: "muted" }, "(not kept)"));
  }
  parts.push(h("h2", {}, "History"), table(["Time", "State", "Retried", "Status", "Latency", "Error", "Response"],
    attempts(history), "No log rows for this message."));
  clear(box, parts);
  return Boolean(message);
}

// One message's page, drawn again every second while the message still waits, so its
// history fills in as attempts happen; stops when it is delivered, failed or cancelled.
function watch(main, id) {
  let stopped = false;
  let timer = null;
  const draw = async () => {
    const waiting = await detail(main, id);
    if (waiting && !stopped) timer = setTimeout(draw, 1000);
  };
  draw();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export async function render(main, ctx, id) {
  if (id) return watch(main, id);
  main.append(h("h1", {}, "Messages and logs"));
  const tail = h("section", {});
  main.append(tail);
  const stop = liveTail(tail);
  if (!ctx.session.admin) main.append(h("p", { class: "notice" }, "A namespace token sees its namespace's topic messages only."));
  logList(main.appendChild(h("section", {})));
  return stop;
}
