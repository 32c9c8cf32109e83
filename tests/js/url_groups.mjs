// client.urlGroups: argv[2] is {op, name, endpoints}; op is add | remove | get | list | delete.
import { client, run } from "./sdk.mjs";

await run(async ({ op, name, endpoints }) => {
  const groups = client().urlGroups;
  switch (op) {
    case "add":
      return await groups.addEndpoints({ name, endpoints });
    case "remove":
      return await groups.removeEndpoints({ name, endpoints });
    case "get":
      return await groups.get(name);
    case "list":
      return await groups.list();
    case "delete":
      return await groups.delete(name);
    default:
      throw new Error(`unknown op ${op}`);
  }
});
