// Shared by workflow_server.mjs and workflow_many_server.mjs: the workflow modules of
// ./workflows/, and a node:http server that hands each request to a fetch-style handler.
import http from "node:http";
import { readdir } from "node:fs/promises";
import { records } from "./workflows/record.mjs";

/** Every module of ./workflows/ (record.mjs aside), in file-name order. */
export async function workflowModules() {
  const directory = new URL("./workflows/", import.meta.url);
  const modules = [];
  for (const file of (await readdir(directory)).sort()) {
    if (!file.endsWith(".mjs") || file === "record.mjs") continue;
    modules.push(await import(new URL(file, directory)));
  }
  return modules;
}

async function body(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Serve `handle(request: Request, url: URL)` (a Response, or null for 404) on 127.0.0.1:port,
 * with GET /records answering what the workflows recorded; prints `ready <port>` once it
 * listens.
 */
export function listen(port, handle) {
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
      const answer = await handle(
        new Request(url, { method: request.method, headers, body: get ? undefined : payload }),
        url,
      );
      if (!answer) {
        response.writeHead(404).end(`nothing at ${url.pathname}`);
        return;
      }
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
}
