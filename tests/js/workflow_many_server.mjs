// Workflows served together by the SDK's `serveMany` (the Cloudflare adapter's: plain
// fetch handlers, no framework), as `context.invoke` needs them: an invoked workflow is
// found beside its invoker, at the invoker's URL with the last segment its workflow id.
//
//   node workflow_many_server.mjs <port>
//
// Every module in ./workflows/ may export `many`: {id: createWorkflow(...)}; all are served
// by one `serveMany` at POST /wf/<id>, configured from the environment (QSTASH_URL,
// QSTASH_TOKEN, the signing keys) like workflow_server.mjs; GET /records returns what they
// recorded. Prints `ready <port>` once it listens.
import http from "node:http";
import { readdir } from "node:fs/promises";
import { serveMany } from "@upstash/workflow/cloudflare";
import { records } from "./workflows/record.mjs";

const port = Number(process.argv[2] ?? "0");
const many = {};
const directory = new URL("./workflows/", import.meta.url);
for (const file of (await readdir(directory)).sort()) {
  if (!file.endsWith(".mjs") || file === "record.mjs") continue;
  const module = await import(new URL(file, directory));
  for (const [id, workflow] of Object.entries(module.many ?? {})) {
    if (id in many) throw new Error(`workflow ${id} is defined twice`);
    many[id] = workflow;
  }
}
const { fetch: handler } = serveMany(many);

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
    const payload = await body(request);
    const headers = new Headers();
    for (const [key, value] of Object.entries(request.headers)) {
      for (const one of [value].flat()) headers.append(key, one);
    }
    const get = ["GET", "HEAD"].includes(request.method);
    const answer = await handler(
      new Request(url, { method: request.method, headers, body: get ? undefined : payload }),
      { ...process.env },
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
