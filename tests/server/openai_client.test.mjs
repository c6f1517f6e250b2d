// The official `openai` npm client, unmodified, against `lumen serve`: completions, chat,
// streaming, and every error case as the status and error body the client reports.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { metrics, post, readEvents, startServer } from './lumen_server.mjs';

const T = { timeout: 60000 };

describe('lumen serve with the openai client', () => {
  let server, client;
  before(async () => {
    server = await startServer(['--ctx-size', '256', '--max-body', '65536']);
    client = server.client();
  });
  after(async () => assert.equal(await server.stop(), 0));

  test('completion', T, async () => {
    const r = await client.completions.create({ model: 'x', prompt: 'Once upon a time', max_tokens: 20, temperature: 0 });
    assert.equal(r.object, 'text_completion');
    assert.ok(r.choices[0].text.length > 0);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 20);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 20);
  });

  test('chat completion', T, async () => {
    const r = await client.chat.completions.create({
      model: 'x', messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Hi' }],
      max_tokens: 12, temperature: 0,
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  });

  test('streamed chat equals the whole answer', T, async () => {
    // 200 tokens with end of text and BOS biased away: generating them takes long enough that
    // even a busy machine delivers them in several pieces (40 tokens came as one at times).
    const request = {
      model: 'x', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 200, temperature: 0,
      logit_bias: { 1: -100, 2: -100 },
    };
    const whole = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = '', chunks = 0, finish = null, usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      if (!chunk.choices.length) continue;
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
      chunks++;
    }
    assert.equal(text, whole.choices[0].message.content);
    // The server sends what the engine produced since its last write, so on a loaded machine a
    // fast model's tokens can arrive coalesced: more than one chunk is all that is certain here
    // (token-by-token arrival over a slow connection is the chat page test's job).
    assert.ok(chunks > 1, `only ${chunks} chunk`);
    assert.equal(finish, whole.choices[0].finish_reason);
    assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  });

  // Greedy, so each chosen token is the most likely one: its logprob is the first alternative's.
  test('logprobs: chat and completions, whole and streamed', T, async () => {
    const chat = { model: 'x', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8, temperature: 0,
      logit_bias: { 1: -100, 2: -100 }, logprobs: true, top_logprobs: 3 };
    const whole = await client.chat.completions.create(chat);
    const content = whole.choices[0].logprobs.content;
    assert.equal(content.length, whole.usage.completion_tokens);
    assert.equal(content.map((t) => t.token).join(''), whole.choices[0].message.content);
    for (const t of content) {
      assert.equal(t.top_logprobs.length, 3);
      assert.equal(t.top_logprobs[0].token, t.token);
      assert.equal(t.top_logprobs[0].logprob, t.logprob);
      assert.ok(t.logprob <= 0 && t.top_logprobs[1].logprob <= t.logprob && t.top_logprobs[2].logprob <= t.top_logprobs[1].logprob);
      assert.ok(t.top_logprobs.reduce((sum, a) => sum + Math.exp(a.logprob), 0) <= 1 + 1e-6);
      assert.deepEqual(t.bytes, [...Buffer.from(t.token, 'utf8')]);
    }
    const streamed = [];
    for await (const chunk of await client.chat.completions.create({ ...chat, stream: true }))
      streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    assert.deepEqual(streamed, content);

    const completion = await client.completions.create({ model: 'x', prompt: 'Once upon a time', max_tokens: 8,
      temperature: 0, logit_bias: { 1: -100, 2: -100 }, logprobs: 2 });
    const lp = completion.choices[0].logprobs;
    assert.equal(lp.tokens.join(''), completion.choices[0].text);
    assert.equal(lp.token_logprobs.length, 8);
    for (let i = 0; i < 8; i++) {
      assert.equal(lp.top_logprobs[i][lp.tokens[i]], lp.token_logprobs[i]);
      assert.equal(lp.text_offset[i], lp.tokens.slice(0, i).join('').length);
    }
    const plain = await client.chat.completions.create({ ...chat, logprobs: undefined, top_logprobs: undefined });
    assert.equal(plain.choices[0].logprobs, null);
  });

  // Scoring a text, as evaluation harnesses do: echo, logprobs, max_tokens 0. The prompt's
  // tokens lead the logprobs (the first with nulls) and the scores of its tokens equal what a
  // request generating those same tokens reports for them.
  test('echo with logprobs scores the prompt', T, async () => {
    const generated = await client.completions.create({ model: 'x', prompt: 'Once upon a time', max_tokens: 6,
      temperature: 0, logit_bias: { 1: -100, 2: -100 }, logprobs: 1 });
    const text = 'Once upon a time' + generated.choices[0].text;
    const scored = await client.completions.create({ model: 'x', prompt: text, max_tokens: 0, echo: true, logprobs: 1 });
    const lp = scored.choices[0].logprobs;
    assert.equal(scored.choices[0].text, text);
    assert.equal(scored.usage.completion_tokens, 0);
    assert.equal(lp.tokens.length, scored.usage.prompt_tokens);
    assert.equal(lp.tokens.join(''), text);
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.top_logprobs[0], null);
    const tail = lp.token_logprobs.slice(-6), expected = generated.choices[0].logprobs.token_logprobs;
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(tail[i] - expected[i]) < 1e-4, `token ${i}: ${tail[i]} vs ${expected[i]}`);
    const plain = await client.completions.create({ model: 'x', prompt: 'Once upon', max_tokens: 3, temperature: 0, echo: true });
    assert.ok(plain.choices[0].text.startsWith('Once upon') && plain.choices[0].text.length > 'Once upon'.length);
    await assert.rejects(client.completions.create({ model: 'x', prompt: 'Once', max_tokens: 0 }), { status: 400 });
  });

  test('streamed completion ends with [DONE]', T, async () => {
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 10, temperature: 0, stream: true }),
      signal: AbortSignal.timeout(30000),
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const events = await readEvents(response);
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(JSON.parse(events.at(-2)).choices[0].finish_reason, 'length');
  });

  test('stop strings end the text before them', T, async () => {
    const base = { model: 'x', prompt: 'Once upon a time', max_tokens: 60, temperature: 0 };
    const full = (await client.completions.create(base)).choices[0].text;
    const stop = full.slice(10, 14);
    const r = await client.completions.create({ ...base, stop: [stop] });
    assert.equal(r.choices[0].text, full.slice(0, full.indexOf(stop)));
    assert.equal(r.choices[0].finish_reason, 'stop');
    let streamed = '';
    for await (const c of await client.completions.create({ ...base, stop, stream: true })) streamed += c.choices[0]?.text ?? '';
    assert.equal(streamed, r.choices[0].text);
  });

  test('sampling parameters are accepted; a seed repeats a sample', T, async () => {
    const request = {
      model: 'x', prompt: 'Once upon a time', max_tokens: 16, temperature: 0.9, top_p: 0.9, seed: 42,
      presence_penalty: 0.5, frequency_penalty: 0.5, logit_bias: { 13: -100 }, top_k: 20, min_p: 0.05, repeat_penalty: 1.1,
    };
    const a = await client.completions.create(request);
    const b = await client.completions.create(request);
    assert.equal(a.choices[0].text, b.choices[0].text);
  });

  // n choices: choice i samples with seed + i, so each equals a lone request with that seed; the
  // stream interleaves the choices by index and says the same.
  test('n choices, whole and streamed', T, async () => {
    const base = { model: 'x', prompt: 'Once upon a time', max_tokens: 16, temperature: 0.9, seed: 42,
      logit_bias: { 1: -100, 2: -100 } };
    const r = await client.completions.create({ ...base, n: 3 });
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
    for (const [i, c] of r.choices.entries()) {
      const alone = await client.completions.create({ ...base, seed: 42 + i });
      assert.equal(c.text, alone.choices[0].text, `choice ${i}`);
    }
    assert.notEqual(r.choices[0].text, r.choices[1].text);
    assert.equal(r.usage.completion_tokens, 3 * 16);
    const streamed = ['', '', ''], finishes = [null, null, null];
    for await (const chunk of await client.completions.create({ ...base, n: 3, stream: true })) {
      for (const c of chunk.choices) {
        streamed[c.index] += c.text;
        finishes[c.index] = c.finish_reason ?? finishes[c.index];
      }
    }
    assert.deepEqual(streamed, r.choices.map((c) => c.text));
    assert.deepEqual(finishes, ['length', 'length', 'length']);

    const chat = { model: 'x', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10, temperature: 0.9, seed: 5, n: 2 };
    const whole = await client.chat.completions.create(chat);
    const texts = ['', ''];
    for await (const chunk of await client.chat.completions.create({ ...chat, stream: true }))
      for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
    assert.deepEqual(texts, whole.choices.map((c) => c.message.content));
  });

  // best_of: of the candidates (seeds 7, 8, 9), the one whose tokens have the highest mean
  // log-probability, checked against the candidates' own logprobs requested one by one.
  test('best_of returns the candidate with the highest logprob per token', T, async () => {
    const base = { model: 'x', prompt: 'Once upon a time', max_tokens: 12, temperature: 1.5, seed: 7,
      logit_bias: { 1: -100, 2: -100 } };
    const best = await client.completions.create({ ...base, best_of: 3 });
    assert.equal(best.choices.length, 1);
    assert.equal(best.usage.completion_tokens, 3 * 12);
    const candidates = [];
    for (let i = 0; i < 3; i++) {
      const c = (await client.completions.create({ ...base, seed: 7 + i, logprobs: 0 })).choices[0];
      const lp = c.logprobs.token_logprobs;
      candidates.push({ text: c.text, mean: lp.reduce((a, b) => a + b, 0) / lp.length });
    }
    assert.ok(new Set(candidates.map((c) => c.text)).size > 1, 'the candidates should differ');
    candidates.sort((a, b) => b.mean - a.mean);
    assert.equal(best.choices[0].text, candidates[0].text);
    const two = await client.completions.create({ ...base, n: 2, best_of: 3 });
    assert.deepEqual(two.choices.map((c) => c.text), [candidates[0].text, candidates[1].text]);
  });

  // JSON mode: the story model writes an object's opening, never prose (the grammar itself is
  // tested in the engine's and the checker's unit tests); a schema is refused, not ignored.
  test('response_format json_object; json_schema is a 400', T, async () => {
    const chat = { model: 'x', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 40, temperature: 0 };
    const plain = await client.chat.completions.create(chat);
    assert.ok(!plain.choices[0].message.content.trimStart().startsWith('{'));
    const json = await client.chat.completions.create({ ...chat, response_format: { type: 'json_object' } });
    assert.match(json.choices[0].message.content, /^\s*\{\s*("|\})/);
    await assert.rejects(client.chat.completions.create({ ...chat,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }), (e) => e.status === 400);
  });

  test('models, health, tokenize, detokenize', T, async () => {
    const models = await client.models.list();
    assert.equal(models.data[0].id, 'stories260K');
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: 'ok' });
    const { json: tokens } = await post(server.url, '/tokenize', { content: 'Once upon a time' });
    assert.ok(tokens.tokens.length > 0);
    const { json: text } = await post(server.url, '/detokenize', tokens);
    assert.equal(text.content, 'Once upon a time');
    assert.equal((await post(server.url, '/tokenize', { content: 5 })).status, 400);
    assert.equal((await post(server.url, '/detokenize', { tokens: [1e9] })).status, 400);
  });

  // Each 400 through the client, which must surface OpenAI's error shape.
  const badRequests = {
    'max_tokens of the wrong type': { prompt: 'x', max_tokens: 'many' },
    'max_tokens zero': { prompt: 'x', max_tokens: 0 },
    'max_tokens beyond the context': { prompt: 'x', max_tokens: 100000 },
    'negative temperature': { prompt: 'x', temperature: -1 },
    'top_p above 1': { prompt: 'x', top_p: 2 },
    'stop of the wrong type': { prompt: 'x', stop: 3 },
    'prompt of the wrong type': { prompt: { text: 'x' } },
    'prompt longer than the context': { prompt: 'Once upon a time '.repeat(200) },
    'token id outside the vocabulary': { prompt: [1, 1000000] },
    'n beyond 20': { prompt: 'x', n: 21 },
    'best_of below n': { prompt: 'x', n: 3, best_of: 2 },
    'best_of streamed': { prompt: 'x', best_of: 2, stream: true },
  };
  for (const [name, body] of Object.entries(badRequests)) {
    test(`400: ${name}`, T, async () => {
      await assert.rejects(client.completions.create({ model: 'x', ...body }), (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, String(e));
        assert.equal(e.status, 400);
        assert.equal(e.error.type, 'invalid_request_error');
        assert.ok(e.error.message.length > 0);
        return true;
      });
    });
  }

  test('400: chat messages malformed', T, async () => {
    for (const messages of [[], [{ role: 'user' , content: 5 }], [{ role: 'nobody', content: 'x' }]]) {
      await assert.rejects(client.chat.completions.create({ model: 'x', messages }), (e) => e.status === 400);
    }
  });

  test('400: malformed JSON', T, async () => {
    const r = await post(server.url, '/v1/chat/completions', '{"messages": [');
    assert.equal(r.status, 400);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.code, 'invalid_json');
  });

  test('404: unknown route', T, async () => {
    await assert.rejects(client.post('/no/such/route', { body: {} }), (e) => e.status === 404);
    const r = await post(server.url, '/v2/completions', {});
    assert.equal(r.status, 404);
    assert.ok(r.json.error.message.includes('/v2/completions'));
  });

  test('413: oversize body', T, async () => {
    const r = await post(server.url, '/v1/completions', { prompt: 'x'.repeat(100000) });
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'payload_too_large');
    await assert.rejects(client.completions.create({ model: 'x', prompt: 'y'.repeat(100000) }), (e) => e.status === 413);
  });

  test('metrics in Prometheus text', T, async () => {
    const m = await metrics(server.url);
    for (const name of ['requests_total', 'generated_tokens_total', 'prompt_tokens_total', 'prompt_tokens_cached_total',
      'requests_queued', 'requests_running', 'kv_blocks_used', 'kv_blocks_free', 'generated_tokens_per_second'])
      assert.ok(name in m, name);
    assert.ok(m.requests_total > 0);
  });
});

describe('--api-key', () => {
  let server;
  before(async () => { server = await startServer(['--api-key', 'sesame']); });
  after(async () => assert.equal(await server.stop(), 0));

  test('401 without the right key, 200 with it; health stays open', T, async () => {
    for (const apiKey of ['wrong', 'sesame-']) {
      await assert.rejects(server.client({ apiKey }).completions.create({ model: 'x', prompt: 'x', max_tokens: 2 }), (e) => {
        assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
        assert.equal(e.error.type, 'authentication_error');
        return true;
      });
    }
    const noKey = await post(server.url, '/v1/completions', { prompt: 'x' });
    assert.equal(noKey.status, 401);
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
    const ok = await server.client({ apiKey: 'sesame' }).completions.create({ model: 'x', prompt: 'x', max_tokens: 2 });
    assert.equal(ok.usage.completion_tokens, 2);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  });
});

describe('a full queue', () => {
  let server;
  before(async () => { server = await startServer(['--parallel', '1', '--queue', '1']); });
  after(async () => assert.equal(await server.stop(), 0));

  test('503 when the engine refuses more work; the accepted requests complete', T, async () => {
    const client = server.client();
    const results = await Promise.allSettled(Array.from({ length: 12 }, () =>
      client.completions.create({ model: 'x', prompt: 'Once upon a time', max_tokens: 400, temperature: 0 })));
    const refused = results.filter((r) => r.status === 'rejected');
    assert.ok(refused.length > 0, 'nothing was refused');
    for (const r of refused) {
      assert.ok(r.reason instanceof OpenAI.InternalServerError, String(r.reason));
      assert.equal(r.reason.status, 503);
    }
    const done = results.filter((r) => r.status === 'fulfilled');
    assert.ok(done.length >= 1);
    for (const r of done) assert.ok(r.value.usage.completion_tokens > 0);
  });
});

// A stop signal that arrives just after the address is printed, before the accept loop has
// started, must still end the server (it once went unheard there: 3 hangs in 10 such starts).
describe('shutdown', () => {
  test('SIGTERM right after start ends the server with status 0', T, async () => {
    for (let i = 0; i < 10; i++) {
      const server = await startServer();
      assert.equal(await server.stop(), 0, `start ${i}: the server did not end on SIGTERM`);
    }
  });
});
