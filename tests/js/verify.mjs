// The SDK's Receiver: argv[2] is {signature, body, url}; the keys come from
// QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY. Prints {valid: true} or, for a
// signature the Receiver rejects (SignatureError), {valid: false, reason}.
import { Receiver, SignatureError } from "@upstash/qstash";
import { run } from "./sdk.mjs";

await run(async ({ signature, body, url }) => {
  const receiver = new Receiver({
    currentSigningKey: process.env.QSTASH_CURRENT_SIGNING_KEY,
    nextSigningKey: process.env.QSTASH_NEXT_SIGNING_KEY,
    devMode: false,
  });
  try {
    return { valid: await receiver.verify({ signature, body, url }) };
  } catch (error) {
    if (error instanceof SignatureError) return { valid: false, reason: error.message };
    throw error;
  }
});
