// Settings shared by ingest.mjs and worker.mjs, all from the environment (set by
// bench/reference_pipeline.py): the Redis URL, the queue's name, and the retry policy.
import { Redis } from 'ioredis';

export const QUEUE = process.env.QUEUE ?? 'deliveries';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Herald's defaults: 3 retries after the first attempt; BullMQ counts attempts in all.
export const ATTEMPTS = Number(process.env.ATTEMPTS ?? 4);
export const BACKOFF_MS = Number(process.env.BACKOFF_MS ?? 100);

// BullMQ wants maxRetriesPerRequest: null on every connection (its workers block on Redis).
export function connection() {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

// Close `close()` on SIGTERM/SIGINT, then exit: in-flight jobs finish first.
export function onStop(close) {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
