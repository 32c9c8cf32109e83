// The reference pipeline's ingest: POST /publish/<destination URL> with any body stores a
// BullMQ job {destination, body} (attempts with exponential backoff) and answers 201
// {"messageId": <job id>} once Redis has it. GET /healthz answers 200 once Redis is reached.
import crypto from 'node:crypto';
import Fastify from 'fastify';
import { Queue } from 'bullmq';
import { ATTEMPTS, BACKOFF_MS, QUEUE, connection, onStop } from './common.mjs';

const TOKEN = Buffer.from(`Bearer ${process.env.TOKEN ?? ''}`);
const PORT = Number(process.env.PORT ?? 3000);

const queue = new Queue(QUEUE, { connection: connection() });
const jobOptions = {
  attempts: ATTEMPTS,
  backoff: { type: 'exponential', delay: BACKOFF_MS },
  // What a production setup keeps: recent history, not every job forever.
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
// Bodies are opaque: any content type is taken as text, as Herald takes bytes.
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => done(null, body));

function authorized(request) {
  // The same bearer-token check Herald makes (constant time).
  const given = Buffer.from(request.headers.authorization ?? '');
  return given.length === TOKEN.length && crypto.timingSafeEqual(given, TOKEN);
}

app.post('/publish/*', async (request, reply) => {
  if (!authorized(request)) return reply.code(401).send({ error: 'unauthorized' });
  const destination = request.params['*'];
  if (!/^https?:\/\//.test(destination)) return reply.code(400).send({ error: 'bad destination' });
  const job = await queue.add('deliver', { destination, body: request.body ?? '' }, jobOptions);
  return reply.code(201).send({ messageId: job.id });
});

app.get('/healthz', async () => ({ ok: true }));

await queue.waitUntilReady();
await app.listen({ host: '127.0.0.1', port: PORT });
onStop(async () => {
  await app.close();
  await queue.close();
});
