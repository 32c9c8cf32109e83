// The reference pipeline's worker: a BullMQ Worker (concurrency 64) POSTs each job's body
// to its destination with undici and fails the job on a non-2xx answer, so BullMQ retries
// it after its backoff. Sends Upstash-Message-Id / Upstash-Retried as Herald does, so the
// benchmark's sink counts both systems alike. Touches READY_FILE once connected.
import { writeFileSync } from 'node:fs';
import { Worker } from 'bullmq';
import { request } from 'undici';
import { QUEUE, connection, onStop } from './common.mjs';

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const TIMEOUT_MS = 30_000;

async function deliver(job) {
  const response = await request(job.data.destination, {
    method: 'POST',
    body: job.data.body,
    headers: {
      'content-type': 'application/octet-stream',
      'upstash-message-id': job.id,
      'upstash-retried': String(job.attemptsMade),
    },
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
  });
  await response.body.dump();
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw new Error(`HTTP ${response.statusCode}`);
  }
  return response.statusCode;
}

const worker = new Worker(QUEUE, deliver, { connection: connection(), concurrency: CONCURRENCY });
worker.on('error', (error) => console.error('worker error:', error.message));
await worker.waitUntilReady();
if (process.env.READY_FILE) writeFileSync(process.env.READY_FILE, 'ready\n');
onStop(() => worker.close());
