// Signing keys: current and next, masked, and rotation (next becomes current, a new next).
import { api } from "./api.js";
import { h, clear, table, confirmed } from "./util.js";

const mask = (key) => (key ? `${key.slice(0, 4)}${"•".repeat(12)} (${key.length} characters)` : "—");

export async function render(main) {
  let keys;
  try {
    keys = await api("/v2/keys");
  } catch (e) {
    if (e.status !== 403) throw e;
    clear(main, h("h1", {}, "Signing keys"),
      h("p", { id: "keys-refused", class: "muted" }, "Only an admin token may see the signing keys."));
    return;
  }
  clear(main, h("h1", {}, "Signing keys"),
    h("p", { class: "muted" }, "Deliveries are signed with the current key; receivers also accept the next one."),
    table(["Key", "Value"], [["Current", h("span", { id: "key-current", class: "mono" }, mask(keys.current))],
      ["Next", h("span", { id: "key-next", class: "mono" }, mask(keys.next))]]),
    h("p", {}, h("button", { class: "danger action", id: "rotate", type: "button", onclick: async () => {
      if (!confirmed("Rotate? The next key becomes current and a new next key is made; receivers must learn it.")) return;
      await api("/v2/keys/rotate", { method: "POST" });
      render(main);
    } }, "Rotate")));
}
