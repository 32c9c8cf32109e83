// Schedules, queues and flow-control keys: list, pause/resume, delete; a schedule's next
// ticks; a queue's lag.
import { api } from "./api.js";
import { h, clear, badge, time, table, errorBox, confirmed } from "./util.js";

function act(label, fn, attrs = {}) {
  return h("button", { type: "button", ...attrs, class: `action ${attrs.class || ""}`.trim(), onclick: fn }, label);
}

async function nextTicks(cron) {
  try { return (await api("/console/api/ticks", { query: { cron, count: 3 } })).ticks.map(time).join(", "); }
  catch (e) { return e.message; }
}

async function schedules(box, reload) {
  const list = await api("/v2/schedules");
  const ticks = await Promise.all(list.map((s) => nextTicks(s.cron)));
  return table(["Schedule", "Cron", "Destination", "State", "Next ticks", "Last tick", ""],
    list.map((s, i) => h("tr", { class: "schedule-row", "data-schedule": s.scheduleId },
      [h("span", { class: "mono" }, s.scheduleId), h("span", { class: "mono" }, s.cron), s.destination,
        badge(s.isPaused ? "paused" : "active"), ticks[i], time(s.lastScheduleTime),
        h("span", { class: "row" },
          act(s.isPaused ? "Resume" : "Pause", async () => {
            await api(`/v2/schedules/${s.scheduleId}/${s.isPaused ? "resume" : "pause"}`, { method: "POST" });
            reload();
          }),
          act("Delete", async () => {
            if (!confirmed(`Delete schedule ${s.scheduleId}?`)) return;
            await api(`/v2/schedules/${s.scheduleId}`, { method: "DELETE" });
            reload();
          }, { class: "danger" }))].map((c) => h("td", {}, c)))), "No schedules.");
}

async function queues(box, reload) {
  const list = await api("/v2/queues");
  return table(["Queue", "Parallelism", "Lag", "State", "Updated", ""],
    list.map((q) => h("tr", { class: "queue-row", "data-queue": q.name, "data-paused": String(q.paused) },
      [h("strong", {}, q.name), q.parallelism, q.lag, badge(q.paused ? "paused" : "active"), time(q.updatedAt),
        h("span", { class: "row" },
          act(q.paused ? "Resume" : "Pause", async () => {
            await api(`/v2/queues/${encodeURIComponent(q.name)}/${q.paused ? "resume" : "pause"}`, { method: "POST" });
            reload();
          }, { class: "toggle" }),
          act("Delete", async () => {
            if (!confirmed(`Delete queue ${q.name}?`)) return;
            await api(`/v2/queues/${encodeURIComponent(q.name)}`, { method: "DELETE" });
            reload();
          }, { class: "danger" }))].map((c) => h("td", {}, c)))), "No queues.");
}

async function flowKeys(box, reload) {
  const list = await api("/v2/flowControl");
  return table(["Key", "Waiting", "In flight", "Rate", "State", ""],
    list.map((f) => h("tr", { class: "flow-row", "data-key": f.flowControlKey },
      [h("span", { class: "mono" }, f.flowControlKey), f.waitListSize,
        `${f.parallelismCount} / ${f.parallelismMax || "∞"}`, `${f.rateCount} / ${f.rateMax || "∞"} per ${f.ratePeriod}s`,
        badge(f.isPaused ? "paused" : "active"),
        act(f.isPaused ? "Resume" : "Pause", async () => {
          const path = f.flowControlKey.split("/").map(encodeURIComponent).join("/");
          await api(`/v2/flowControl/${path}/${f.isPaused ? "resume" : "pause"}`, { method: "POST" });
          reload();
        })].map((c) => h("td", {}, c)))), "No flow-control keys.");
}

export async function render(main) {
  const sections = [["Schedules", schedules, "schedules"], ["Queues", queues, "queues"],
    ["Flow-control keys", flowKeys, "flow-keys"]];
  clear(main, h("h1", {}, "Schedules, queues and flow control"));
  for (const [title, build, id] of sections) {
    const box = h("div", { id });
    main.append(h("h2", {}, title), box);
    const reload = async () => {
      try { clear(box, await build(box, reload)); } catch (e) { clear(box, errorBox(e)); }
    };
    await reload();
  }
}
