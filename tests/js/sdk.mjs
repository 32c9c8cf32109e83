// Shared by the scripts here: the official client configured the way users configure it
// (QSTASH_URL / QSTASH_TOKEN from the environment), one JSON argument in, one JSON line out.
import { Client } from "@upstash/qstash";

/** The SDK's own client; `retry: false` so a failing call fails at once. */
export function client() {
  if (!process.env.QSTASH_URL || !process.env.QSTASH_TOKEN) {
    throw new Error("QSTASH_URL and QSTASH_TOKEN must be set");
  }
  return new Client({ retry: false });
}

/**
 * Run `main(input)` with the JSON in argv[2] and print its result as one JSON line.
 * A thrown error prints `{"error": {name, message, status}}` and exits 1.
 */
export async function run(main) {
  try {
    const result = await main(JSON.parse(process.argv[2] ?? "{}"));
    process.stdout.write(`${JSON.stringify(result ?? null)}\n`);
  } catch (error) {
    const { name, message, status } = error;
    process.stdout.write(`${JSON.stringify({ error: { name, message, status } })}\n`);
    process.exitCode = 1;
  }
}
