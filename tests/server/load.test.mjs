// Many users at once: 32 concurrent clients x 10 requests (mixed lengths, streamed and not) all
// complete with the output each request gives alone; KV blocks are all returned afterwards,
// including those of clients that hang up mid-stream or before a non-streamed answer; a client
// that hangs up while its request is queued takes it out of the queue at once; a shared prefix is
// served from the cache; a flood of malformed requests leaves a well-formed one untouched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metrics, post, startServer, waitForMetrics } from './lumen_server.mjs';

const PROMPTS = [
  'Once upon a time',
  'The little dog',
  'Tom and Lily went to the park. They saw a big tree and',
  'One day, a girl named Sue found a red ball in the garden. She',
  'The sun was shining',
  'There was a cat who liked to sleep all day. One morning,',
  'Ben had a toy car',
  'Mom said',
];
const LENGTHS = [4, 16, 48, 96];

// Request k of the mixed workload: alternately chat and plain, streamed and not.
function workload(k) {
  const prompt = PROMPTS[k % PROMPTS.length];
  const max_tokens = LENGTHS[Math.floor(k / PROMPTS.length) % LENGTHS.length];
  return { prompt, max_tokens, chat: k % 3 === 0 };
}
const DISTINCT = PROMPTS.length * LENGTHS.length;

async function run(client, { prompt, max_tokens, chat }, stream) {
  const common = { model: 'x', max_tokens, temperature: 0, stream };
  if (chat) {
    const request = { ...common, messages: [{ role: 'user', content: prompt }] };
    if (!stream) return (await client.chat.completions.create(request)).choices[0].message.content;
    let text = '';
    for await (const c of await client.chat.completions.create(request)) text += c.choices[0]?.delta?.content ?? '';
    return text;
  }
  const request = { ...common, prompt };
  if (!stream) return (await client.completions.create(request)).choices[0].text;
  let text = '';
  for await (const c of await client.completions.create(request)) text += c.choices[0]?.text ?? '';
  return text;
}

describe('load', () => {
  let server;
  before(async () => { server = await startServer(['--parallel', '16', '--queue', '64', '--ctx-size', '256']); });
  after(async () => assert.equal(await server.stop(), 0));

  test('32 clients x 10 requests: all complete, each as when sent alone, no KV block left in use', { timeout: 150000 }, async () => {
    const alone = [];
    const solo = server.client();
    for (let k = 0; k < DISTINCT; k++) alone.push(await run(solo, workload(k), false));

    const started = Date.now();
    const clients = Array.from({ length: 32 }, async (_, c) => {
      const client = server.client();  // its own connections, as a separate user has
      for (let i = 0; i < 10; i++) {
        const k = (c * 10 + i * 7) % DISTINCT;
        const text = await run(client, workload(k), (c + i) % 2 === 0);
        assert.equal(text, alone[k], `client ${c} request ${i} (workload ${k}) differs from the request alone`);
      }
    });
    await Promise.all(clients);
    const m = await waitForMetrics(server.url, (m) => m.requests_running === 0 && m.requests_queued === 0);
    assert.equal(m.kv_blocks_used, 0);
    console.log(`320 requests in ${((Date.now() - started) / 1000).toFixed(1)} s; ${m.generated_tokens_total} tokens generated in all`);
  });

  test('the second of two requests sharing a long prefix reuses its cached blocks', { timeout: 60000 }, async () => {
    const client = server.client();
    const prefix = 'Lily and Tom were best friends. They liked to play in the big green park near the river. ' +
      'Every day they ran, jumped and laughed under the tall trees until the sun went down. ';
    const first = await client.completions.create({ model: 'x', prompt: prefix + 'One day', max_tokens: 4, temperature: 0 });
    const before = await metrics(server.url);
    const second = await client.completions.create({ model: 'x', prompt: prefix + 'The next morning', max_tokens: 4, temperature: 0 });
    const cached = second.usage.prompt_tokens_details.cached_tokens;
    assert.ok(cached >= 16, `only ${cached} of ${second.usage.prompt_tokens} prompt tokens came from the cache`);
    assert.ok(cached < second.usage.prompt_tokens);
    assert.ok(first.usage.prompt_tokens > 40);
    const after = await metrics(server.url);
    assert.equal(after.prompt_tokens_cached_total - before.prompt_tokens_cached_total, cached);
  });

  test('a flood of malformed requests does not disturb a well-formed one', { timeout: 60000 }, async () => {
    const request = { prompt: 'Tom and Lily went to the park. They saw a big tree and', max_tokens: 96, chat: false };
    const client = server.client();
    const alone = await run(client, request, false);
    const bad = [
      ['/v1/completions', '{"prompt": '],
      ['/v1/completions', '{"prompt": "x", "max_tokens": "ten"}'],
      ['/v1/chat/completions', '{"messages": 5}'],
      ['/v1/completions', JSON.stringify({ prompt: 'x'.repeat((1 << 20) + 1000) })],
      ['/v1/nothing', '{}'],
      ['/v1/completions', '[]'],
      ['/tokenize', '{"content": null}'],
    ];
    const oversize = 3;  // index in `bad` of the body over the limit
    const wellFormed = run(client, request, true);
    // The server answers an oversize body with 413 without reading it, so a client still
    // sending can see the connection reset instead of the answer (the 413 itself is checked in
    // openai_client.test.mjs); every other malformed request must get its JSON 4xx.
    const flood = Array.from({ length: 200 }, (_, i) =>
      post(server.url, ...bad[i % bad.length]).catch((error) => {
        if (i % bad.length === oversize) return { reset: true };
        throw error;
      }));
    const answers = await Promise.all(flood);
    for (const a of answers) {
      if (a.reset) continue;
      assert.ok(a.status >= 400 && a.status < 500, `status ${a.status}`);
      assert.ok(a.json?.error?.message, a.text);
    }
    assert.equal(await wellFormed, alone);
  });
});

// A non-streamed answer is sent as a chunked body that writes a space between tokens until the
// JSON is ready (see HttpServer's answer()), so a client that hangs up is noticed as a streaming
// one is. Its own server, with the model's whole context: the request asks for 500 tokens, far
// more than are generated between the answer's headers and the server seeing the hang-up.
// Clients that hang up: mid-stream, before a non-streamed answer, or while their request waits in
// the queue. Each request must outlast the hang-up by far, and the bundled stories260K generates
// its whole context in a fraction of a second, so these run on the bundled llama-2-tiny-random
// (models/README.md): a 4096-token context and a 32000-token vocabulary make 4000 tokens take
// seconds. End of text and BOS are biased away, so only max_tokens or the cancellation end a
// request. With --parallel 1 a second request waits behind the first.
const TINY_RANDOM = new URL('../../models/llama-2-tiny-random.gguf', import.meta.url).pathname;
// Temperature 1: drawing from the whole vocabulary costs more than the model itself, ~0.5 ms a token.
const LONG = { prompt: 'Once upon a time', max_tokens: 4000, temperature: 1, logit_bias: { 1: -100, 2: -100 } };
describe('disconnects', () => {
  let server;
  before(async () => { server = await startServer(['-m', TINY_RANDOM, '--parallel', '1']); });
  after(async () => assert.equal(await server.stop(), 0));

  const send = (body, signal) => fetch(`${server.url}/v1/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, signal, body: JSON.stringify(body),
  });

  test('a client that disconnects mid-stream frees its blocks', { timeout: 60000 }, async () => {
    const before = await metrics(server.url);
    const controller = new AbortController();
    const response = await send({ ...LONG, stream: true }, controller.signal);
    const reader = response.body.getReader();
    await reader.read();  // the first event: generation is under way
    controller.abort();
    const m = await waitForMetrics(server.url, (m) =>
      m.requests_finished_total > before.requests_finished_total && m.requests_running === 0 && m.kv_blocks_used === 0);
    // Cancelled, not run to its end.
    const generated = m.generated_tokens_total - before.generated_tokens_total;
    assert.ok(generated < LONG.max_tokens, `${generated} tokens generated: the request ran to its end`);
  });

  test('a client that disconnects before its non-streamed answer frees its blocks', { timeout: 60000 }, async () => {
    const before = await metrics(server.url);
    const controller = new AbortController();
    // The headers leave as soon as the request is queued; the client hangs up on them.
    const response = await send(LONG, controller.signal);
    controller.abort();
    const aborted = Date.now();
    assert.equal(response.status, 200);
    const m = await waitForMetrics(server.url, (m) =>
      m.requests_finished_total > before.requests_finished_total && m.requests_running === 0 && m.kv_blocks_used === 0);
    const generated = m.generated_tokens_total - before.generated_tokens_total;
    assert.ok(generated < LONG.max_tokens, `${generated} tokens generated: the request ran to its end`);
    console.log(`non-streamed request cancelled after ${generated} of ${LONG.max_tokens} tokens, blocks free ${Date.now() - aborted} ms after the abort`);
  });

  for (const stream of [false, true]) {
    test(`a ${stream ? 'streamed' : 'non-streamed'} request whose client hangs up while queued leaves the queue at once`,
      { timeout: 60000 }, async () => {
        const before = await metrics(server.url);
        const first = new AbortController();
        try {
          await send(LONG, first.signal);
          await waitForMetrics(server.url, (m) => m.requests_running === 1);

          const queued = new AbortController();
          const response = await send({ prompt: 'The little dog', max_tokens: 8, stream }, queued.signal);
          assert.equal(response.status, 200);  // the headers leave once the request is queued
          await waitForMetrics(server.url, (m) => m.requests_queued === 1);
          queued.abort();
          const aborted = Date.now();
          const m = await waitForMetrics(server.url, (m) => m.requests_queued === 0, 5000);
          // Taken out of the queue, not admitted: the first request still runs, and has not ended.
          assert.equal(m.requests_cancelled_queued_total - before.requests_cancelled_queued_total, 1);
          assert.equal(m.requests_finished_total - before.requests_finished_total, 1);
          assert.equal(m.requests_running, 1);
          console.log(`queued ${stream ? 'streamed' : 'non-streamed'} request left the queue ${Date.now() - aborted} ms after the abort`);
        } finally {
          first.abort();  // the next test starts with an idle server, whatever happened here
        }
        const end = await waitForMetrics(server.url, (m) => m.requests_running === 0 && m.kv_blocks_used === 0);
        assert.ok(end.generated_tokens_total - before.generated_tokens_total < 4000, 'the first request ran to its end');
      });
  }
});
