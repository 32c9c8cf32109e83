// The console's shell: sign-in, navigation and a hash router (#/page/param). Each page is
// a module exporting render(main, ctx, param), which may return a cleanup function.
import { api, token, ApiError } from "./api.js";
import { h, clear } from "./util.js";
import * as overview from "./overview.js";
import * as topics from "./topics.js";
import * as messages from "./messages.js";
import * as dlq from "./dlq.js";
import * as schedules from "./schedules.js";
import * as keys from "./keys.js";
import * as workflows from "./workflows.js";

const PAGES = [
  { path: "overview", title: "Overview", page: overview },
  { path: "topics", title: "Topics", page: topics },
  { path: "messages", title: "Messages & logs", page: messages },
  { path: "dlq", title: "Dead letters", page: dlq, admin: true },
  { path: "schedules", title: "Schedules & queues", page: schedules, admin: true },
  { path: "workflows", title: "Workflow runs", page: workflows, admin: true },
  { path: "keys", title: "Signing keys", page: keys, admin: true },
];

const main = document.getElementById("main");
const ctx = { session: null };
let cleanup = null;

function signIn(message) {
  ctx.session = null;
  document.body.classList.remove("readonly");
  clear(document.getElementById("nav"));
  document.getElementById("who").textContent = "";
  document.getElementById("signout").hidden = true;
  const input = h("input", { id: "token", type: "password", autocomplete: "off", placeholder: "Bearer token" });
  const error = h("p", { class: "error", id: "signin-error" }, message || "");
  const form = h("form", { class: "signin", id: "signin", onsubmit: async (event) => {
    event.preventDefault();
    try {
      ctx.session = await api("/console/api/session", { tokenValue: input.value.trim() });
      token.set(input.value.trim());
      start();
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 401 ? "That token was refused." : e.message;
    }
  } },
  h("h1", {}, "Sign in to Herald"),
  h("label", { for: "token" }, "An admin token, a read-only token, or a namespace token (sees only its namespace)"),
  input, h("button", { class: "primary", type: "submit" }, "Sign in"), error);
  clear(main, form);
  input.focus();
}

function nav(current) {
  const links = PAGES.filter((p) => !p.admin || ctx.session.admin).map((p) =>
    h("a", { href: `#/${p.path}`, class: p.path === current ? "active" : null, id: `nav-${p.path}` }, p.title));
  clear(document.getElementById("nav"), links);
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  if (!ctx.session) return;
  const [, path = "overview", ...rest] = location.hash.split("/");
  const entry = PAGES.find((p) => p.path === path) || PAGES[0];
  nav(entry.path);
  if (entry.admin && !ctx.session.admin) {
    clear(main, h("p", { class: "notice" }, "This page needs an admin token."));
    return;
  }
  clear(main);
  try {
    cleanup = (await entry.page.render(main, ctx, rest.map(decodeURIComponent).join("/"))) || null;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return signIn("Your token is no longer accepted.");
    main.append(h("p", { class: "error" }, e.message));
  }
}

async function start() {
  if (!ctx.session) {
    try { ctx.session = await api("/console/api/session"); } catch { return signIn(""); }
  }
  const who = ctx.session.readonly ? "read-only" : ctx.session.admin ? "admin" : `namespace ${ctx.session.namespace}`;
  // A read-only token may look but not act: every action control (class "action") is hidden.
  document.body.classList.toggle("readonly", Boolean(ctx.session.readonly));
  document.getElementById("who").textContent = `Signed in: ${who}`;
  document.getElementById("signout").hidden = false;
  if (!location.hash) location.hash = "#/overview";
  route();
}

document.getElementById("signout").addEventListener("click", () => {
  token.clear();
  if (cleanup) { cleanup(); cleanup = null; }
  signIn("");
});
window.addEventListener("hashchange", route);
if (token.get()) start(); else signIn("");
