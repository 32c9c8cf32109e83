// Workflow endpoints written with the official `@upstash/workflow` SDK, served by plain
// node:http for the tests (tests/support/js.py `WorkflowServer` starts it):
//
//   node workflow_server.mjs <port>
//
// Every module in ./workflows/ exports `workflows`: {name: {route, options}}; each is served
// by the SDK's own `serve` at POST /wf/<name>, configured the way users configure it
// (QSTASH_URL, QSTASH_TOKEN and the signing keys from the environment, so every request's
// signature is checked by the SDK's receiver). Workflows note what they do with `record`
// (./workflows/record.mjs); GET /records returns the notes in order. Prints one line,
// `ready <port>`, once it listens. WORKFLOW_VERBOSE=1 turns on the SDK's logging.
import { serve } from "@upstash/workflow";
import { listen, workflowModules } from "./node_server.mjs";

const handlers = new Map();
for (const module of await workflowModules()) {
  for (const [name, { route, options }] of Object.entries(module.workflows ?? {})) {
    if (handlers.has(name)) throw new Error(`workflow ${name} is defined twice`);
    const verbose = Boolean(process.env.WORKFLOW_VERBOSE);
    handlers.set(name, serve(route, { ...options, verbose }).handler);
  }
}

listen(Number(process.argv[2] ?? "0"), (request, url) => {
  const handler = url.pathname.startsWith("/wf/") && handlers.get(url.pathname.slice(4));
  return handler ? handler(request) : null;
});
