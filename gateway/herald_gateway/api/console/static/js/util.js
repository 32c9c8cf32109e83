// DOM and formatting helpers. Data only ever reaches the page as text (textContent and
// attribute values), never as HTML.
const SVG = "http://www.w3.org/2000/svg";

// h("td", {class: "x", onclick: fn}, child, "text", ...) → an element.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "checked" || key === "value") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

export const time = (ms) => (ms ? new Date(ms).toLocaleString() : "—");

export function age(ms) {
  if (!ms) return "0s";
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

export const badge = (text) => h("span", { class: `badge ${text}` }, text);

// A value the API redacted is shown as such, never its marker.
export const shown = (value) =>
  typeof value === "string" && value.startsWith("REDACTED:") ? "(redacted)" : value;

// A body as text when it is UTF-8, else base64 with its size; `b64` says the API sent it
// base64-encoded (log rows and responses).
export function bodyView(text, b64) {
  if (text === undefined || text === null || text === "") return h("p", { class: "muted" }, "(empty)");
  if (typeof text === "string" && text.startsWith("REDACTED:")) return h("p", { class: "muted" }, "(redacted)");
  if (!b64) return h("pre", { class: "body" }, text);
  try {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    return h("pre", { class: "body" }, new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    const size = Math.floor((text.length * 3) / 4) - (text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0);
    return h("div", {}, h("p", { class: "muted" }, `binary, ${size} bytes (base64):`), h("pre", { class: "body" }, text));
  }
}

export function headersView(headers) {
  const rows = Object.entries(headers || {}).map(([name, values]) =>
    h("tr", {}, h("td", { class: "mono" }, name), h("td", {}, [].concat(values).map(shown).join(", "))));
  return rows.length ? h("table", {}, h("tbody", {}, rows)) : h("p", { class: "muted" }, "(none)");
}

// table(["A", "B"], rows of cells) → a <table>; `empty` when there are no rows.
export function table(columns, rows, empty = "Nothing here.") {
  if (!rows.length) return h("p", { class: "muted empty" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((cells) => cells instanceof Node ? cells : h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

export const errorBox = (error) => h("p", { class: "error" }, error.message || String(error));

// A tiny line chart: values over equal steps, scaled to the largest.
export function chart(values, label) {
  const width = 300, height = 60, max = Math.max(1e-9, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
  return svg;
}

// Ask before acting; the question names what will happen.
export const confirmed = (question) => window.confirm(question);
