// The console's one way to the server: the public API (and /console/api) with the signed-in
// token in the Authorization header. The token lives in sessionStorage only.
const KEY = "herald.token";

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.append(k, v);
  }
  return u;
}

// api("/v2/dlq", {query, method, json}) → the parsed JSON (or null); ApiError on non-2xx.
export async function api(path, { query, method = "GET", json, tokenValue } = {}) {
  const headers = { Authorization: `Bearer ${tokenValue || token.get() || ""}` };
  const init = { method, headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(url(path, query), init);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.error) || `HTTP ${response.status}`);
  }
  return body;
}

// Server-sent events over fetch (so the token stays in a header, not the URL): calls
// onEvent(name, data) per event until `signal` aborts.
export async function stream(path, onEvent, signal) {
  const response = await fetch(url(path), {
    headers: { Authorization: `Bearer ${token.get() || ""}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}
