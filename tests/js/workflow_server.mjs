// Workflow endpoints written with the official `@upstash/workflow` SDK, served by plain
// node:http for the tests (tests/support/js_workflows.py starts it):
//
//   node workflow_server.mjs <port>
//
// Every module in ./workflows/ exports `workflows`: {name: {route, options}}; each is served
// by the SDK's own `serve` at POST /wf/<name>, configured the way users configure it
// (QSTASH_URL, QSTASH_TOKEN and the signing keys from the environment, so every request's
// signature is checked by the SDK's receiver). Workflows note what they do with `record`
// (./workflows/record.mjs); GET /records returns the notes in order. Prints one line,
// `ready <port>`, once it listens.
import http from "node:http";
import { readdir } from "node:fs/promises";
import { serve } from "@upstash/workflow";
import { records } from "./workflows/record.mjs";

const port = Number(process.argv[2] ?? "0");
const handlers = new Map();
const directory = new URL("./workflows/", import.meta.url);
for (const file of (await readdir(directory)).sort()) {
  if (!file.endsWith(".mjs") || file === "record.mjs") continue;
  const module = await import(new URL(file, directory));
  for (const [name, { route, options }] of Object.entries(module.workflows ?? {})) {
    if (handlers.has(name)) throw new Error(`workflow ${name} is defined twice`);
    handlers.set(name, serve(route, { ...options, verbose: Boolean(process.env.WORKFLOW_VERBOSE) }).handler);
  }
}

async function body(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const server = http.createServer(async (request, response) => {
  const url = new URL(request.url, `http://127.0.0.1:${server.address().port}`);
  try {
    if (url.pathname === "/records") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(records));
      return;
    }
    const name = url.pathname.startsWith("/wf/") ? url.pathname.slice(4) : "";
    const handler = handlers.get(name);
    if (!handler) {
      response.writeHead(404).end(`no workflow ${name}`);
      return;
    }
    const payload = await body(request);
    const headers = new Headers();
    for (const [key, value] of Object.entries(request.headers)) {
      for (const one of [value].flat()) headers.append(key, one);
    }
    const answer = await handler(
      new Request(url, {
        method: request.method,
        headers,
        body: ["GET", "HEAD"].includes(request.method) ? undefined : payload,
      }),
    );
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    response.end(Buffer.from(await answer.arrayBuffer()));
  } catch (error) {
    response.writeHead(500, { "content-type": "text/plain" });
    response.end(String(error?.stack ?? error));
  }
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`ready ${server.address().port}\n`);
});
