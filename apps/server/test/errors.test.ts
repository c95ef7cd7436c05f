// The answers to bad or unwelcome requests: 400 naming the field, 413, 401, 429, and a client that goes
// away (its generation stops and its memory is freed).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT } from '../src/index.js';
import { type TestServer, models, post, testServer, waitFor } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await testServer(models.tinyCpm1, { maxBatch: 1, maxQueue: 1 });
});
afterAll(() => t.server.close());

async function error(res: Response) {
  return { status: res.status, error: ((await res.json()) as { error: { message: string; param: string | null; type: string } }).error };
}

describe('400', () => {
  it('for malformed JSON', async () => {
    const r = await error(await post(`${t.url}/v1/completions`, '{"prompt": "床前'));
    expect(r.status).toBe(400);
    expect(r.error.message).toMatch(/not valid JSON/);
  });

  it.each([
    [{ prompt: '床前', temperature: 'hot' }, 'temperature', /expected number/],
    [{ prompt: 42 }, 'prompt', /expected a string/],
    [{ prompt: '床前', max_tokens: 2.5 }, 'max_tokens', /expected int/],
    [{ prompt: '床前', max_tokens: 0 }, 'max_tokens', />=1/],
    [{ prompt: '床前', top_p: 0 }, 'top_p', />0/],
    [{ prompt: '床前', n: 2 }, 'n', /only n = 1/],
    [{ prompt: '床前', stream: 'yes' }, 'stream', /expected boolean/],
    [{}, 'prompt', /required/],
    [{ prompt: '床前', stop: 7 }, 'stop', /expected a string or an array/],
  ])('for %j, naming the field', async (body, param, message) => {
    const r = await error(await post(`${t.url}/v1/completions`, body));
    expect(r.status).toBe(400);
    expect(r.error.param).toBe(param);
    expect(r.error.message).toMatch(new RegExp(`^${param}: `));
    expect(r.error.message).toMatch(message);
  });

  it('for a chat message without content, naming messages.0.content (OpenAI client: BadRequestError)', async () => {
    // @ts-expect-error: content missing on purpose
    const p = t.client.chat.completions.create({ model: 'x', messages: [{ role: 'user' }] });
    await expect(p).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(p).rejects.toMatchObject({ status: 400, param: 'messages.0.content' });
  });

  it('for fill-blank on CPM-1, and for a prompt longer than the context', async () => {
    const fill = await error(await post(`${t.url}/v1/fill-blank`, { text: '天<span>地' }));
    expect(fill.status).toBe(400);
    expect(fill.error.message).toMatch(/CPM-2/);
    const long = await error(await post(`${t.url}/v1/completions`, { prompt: '床前明月光，'.repeat(200) }));
    expect(long.status).toBe(400);
    expect(long.error.message).toMatch(/context/);
  });
});

it('413 for a body over the limit', async () => {
  const r = await error(await post(`${t.url}/v1/completions`, { prompt: 'x'.repeat(BODY_LIMIT + 1) }));
  expect(r.status).toBe(413);
});

it('401 without the right Bearer token when the server has an API key', async () => {
  const k = await testServer(models.tinyCpm1, { apiKey: 'sesame' });
  try {
    const wrong = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: 'open', maxRetries: 0 });
    await expect(wrong.completions.create({ model: 'x', prompt: '床前', max_tokens: 2 })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await post(`${k.url}/v1/completions`, { prompt: '床前' })).status).toBe(401);
    const right = await k.client.completions.create({ model: 'x', prompt: '床前', max_tokens: 2 });
    expect(right.choices[0].finish_reason).toMatch(/^(stop|length)$/);
    expect((await fetch(`${k.url}/health`)).status).toBe(200); // health and the page stay open
  } finally {
    await k.server.close();
  }
});

async function firstEvent(res: Response): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  return reader;
}

it('429 with a JSON error when the queue is full (max-batch 1, max-queue 1)', async () => {
  const ac = new AbortController();
  // ignore_eos: the running request cannot end early, however fast the model decodes (the queue must fill)
  const long = { prompt: '床前明月光，', max_tokens: 480, stop: [], ignore_eos: true, stream: true };
  const engine = t.server.context.served?.engine;
  const running = await fetch(`${t.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long), signal: ac.signal });
  const reader = await firstEvent(running);
  const queued = fetch(`${t.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long), signal: ac.signal }).catch(() => null);
  await waitFor(() => engine?.stats.waiting === 1);
  const full = await t.client.completions.create({ model: 'x', prompt: '床前', max_tokens: 2 }).catch((e: unknown) => e);
  expect(full).toBeInstanceOf(OpenAI.RateLimitError);
  expect(full).toMatchObject({ status: 429, code: 'queue_full' });
  ac.abort();
  await reader.cancel().catch(() => {});
  await queued;
  await waitFor(() => engine?.stats.running === 0 && engine.stats.waiting === 0);
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  expect(metrics).toMatch(/^bminf_requests_total\{route="\/v1\/completions",status="429"\} 1$/m);
});

it('a client that disconnects aborts its generation, and the memory returns to its level', async () => {
  const served = t.server.context.served;
  const pool = (served?.model.backend as unknown as { pool: { stats: { bytesInUse: number } } }).pool;
  await waitFor(() => served?.engine.stats.running === 0);
  const before = pool.stats.bytesInUse;
  const tokensIn = served?.engine.stats.tokensIn ?? 0;
  const ac = new AbortController();
  const res = await fetch(`${t.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: '床前明月光，', max_tokens: 480, stop: [], ignore_eos: true, stream: true }),
    signal: ac.signal,
  });
  const reader = await firstEvent(res);
  await reader.read();
  expect(served?.engine.stats.running).toBe(1);
  // The engine's slots and steps were allocated when the model was served, so the level does not rise.
  expect(pool.stats.bytesInUse).toBe(before);
  ac.abort();
  await waitFor(() => served?.engine.stats.running === 0);
  const steps = served?.engine.stats.steps;
  await new Promise((r) => setTimeout(r, 300));
  expect(served?.engine.stats.steps).toBe(steps); // no step runs for it any more
  expect((served?.engine.stats.tokensIn ?? 0) - tokensIn).toBeLessThan(100); // far from its 480 tokens
  expect(pool.stats.bytesInUse).toBe(before);
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  expect(metrics).toMatch(/^bminf_requests_total\{route="\/v1\/completions",status="499"\} [1-9]\d*$/m);
});
