// The API as OpenAI's own client sees it, against tiny-cpm1 on the CPU (int8): completions and chat,
// streamed and not; greedy text equal to the prompt decoded alone (and to the CLI's), one at a time and 8 at once.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Cpm1Model } from '@bminf/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatPrompt } from '../src/index.js';
import { type TestServer, alone, cliBin, models, testServer } from './helpers.js';

let t: TestServer;
let model: Cpm1Model;
beforeAll(async () => {
  t = await testServer(models.tinyCpm1, { maxBatch: 8 });
  model = t.server.context.served?.model as Cpm1Model;
});
afterAll(() => t.server.close());

const prompts = ['床前明月光，', '春眠不觉晓，', '白日依山尽，', '红豆生南国，', '千山鸟飞绝，', '国破山河在，', '空山不见人，', '月落乌啼霜满天，'];

describe('completions', () => {
  it('answers with the text, finish reason and usage', async () => {
    const r = await t.client.completions.create({ model: 'tiny-cpm1', prompt: prompts[0], max_tokens: 12, temperature: 0.8, seed: 3 });
    expect(r.object).toBe('text_completion');
    expect(r.model).toBe('tiny-cpm1');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0].text.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(r.choices[0].finish_reason);
    expect(r.usage?.prompt_tokens).toBe(model.encode(prompts[0]).length);
    expect(r.usage?.completion_tokens).toBeGreaterThan(0);
    expect(r.usage?.total_tokens).toBe((r.usage?.prompt_tokens ?? 0) + (r.usage?.completion_tokens ?? 0));
  });

  it('with temperature 0 gives the greedy text of the prompt decoded alone and of `bminf generate --greedy`', async () => {
    const prompt = prompts[1];
    const r = await t.client.completions.create({ model: 'x', prompt, max_tokens: 24, temperature: 0 });
    const solo = await alone(model, prompt, { greedy: true, maxTokens: 24 });
    expect(r.choices[0].text).toBe(solo.text);
    expect(r.usage?.completion_tokens).toBe(solo.ids.length);
    const args = ['generate', '--model', models.tinyCpm1, '--prompt', prompt, '--greedy', '--max-tokens', '24', '--device', 'cpu', '--json'];
    const { stdout } = await promisify(execFile)(process.execPath, [cliBin, ...args]);
    expect(r.choices[0].text).toBe(JSON.parse(stdout).text);
  });

  it('with ignore_eos generates past the end-of-text token, up to max_tokens', async () => {
    // tiny-cpm1's greedy continuation of this prompt ends with its end-of-text token after ~16 tokens
    const body = { model: 'x', prompt: prompts[0], max_tokens: 40, temperature: 0 };
    const ends = await t.client.completions.create(body);
    expect(ends.choices[0].finish_reason).toBe('stop');
    expect(ends.usage?.completion_tokens).toBeLessThan(40);
    const past = await t.client.completions.create({ ...body, ignore_eos: true } as typeof body);
    expect(past.choices[0].finish_reason).toBe('length');
    expect(past.usage?.completion_tokens).toBe(40);
    expect(past.choices[0].text.startsWith(ends.choices[0].text)).toBe(true);
  });

  it('with 8 requests in flight, each temperature-0 text is the greedy one', async () => {
    const solo = [];
    for (const p of prompts) solo.push((await alone(model, p, { greedy: true, maxTokens: 32 })).text);
    const steps = t.server.context.served?.engine.stats.steps ?? 0;
    const answers = await Promise.all(prompts.map((prompt) => t.client.completions.create({ model: 'x', prompt, max_tokens: 32, temperature: 0 })));
    expect(answers.map((a) => a.choices[0].text)).toEqual(solo);
    // They shared forward passes: far fewer steps than 8 × 32 tokens.
    expect((t.server.context.served?.engine.stats.steps ?? 0) - steps).toBeLessThan(8 * 32 / 2);
  });

  it('streams the same text in chunks, ending with finish reason and usage', async () => {
    const prompt = prompts[2];
    const stream = await t.client.completions.create({ model: 'x', prompt, max_tokens: 24, temperature: 0, stream: true });
    let text = '';
    let chunks = 0;
    let last;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      chunks++;
      last = c;
    }
    const solo = await alone(model, prompt, { greedy: true, maxTokens: 24 });
    expect(text).toBe(solo.text);
    expect(chunks).toBeGreaterThan(2);
    expect(last?.choices[0].finish_reason).toMatch(/^(stop|length)$/);
    expect(last?.usage?.completion_tokens).toBe(solo.ids.length);
  });

  it('raw SSE ends with data: [DONE]', async () => {
    const res = await fetch(`${t.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: prompts[3], max_tokens: 4, stream: true, an_unknown_parameter: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = await res.text();
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(body.split('\n\n').filter(Boolean).every((e) => e.startsWith('data: '))).toBe(true);
  });
});

describe('chat completions', () => {
  const messages = [
    { role: 'system' as const, content: '你是诗人。' },
    { role: 'user' as const, content: '写一句诗。' },
  ];

  it('continues the documented transcript for CPM-1', async () => {
    const r = await t.client.chat.completions.create({ model: 'x', messages, max_tokens: 16, temperature: 0 });
    const solo = await alone(model, chatPrompt(messages), { greedy: true, maxTokens: 16, stop: ['\n用户：'] });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0].message).toMatchObject({ role: 'assistant', content: solo.text });
    expect(r.usage?.prompt_tokens).toBe(solo.promptIds.length);
  });

  it('streams deltas, the first with the assistant role', async () => {
    const stream = await t.client.chat.completions.create({ model: 'x', messages, max_tokens: 16, temperature: 0, stream: true });
    let text = '';
    const roles: (string | undefined)[] = [];
    let finish: string | null | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      roles.push(c.choices[0]?.delta.role);
      finish ??= c.choices[0]?.finish_reason;
    }
    const solo = await alone(model, chatPrompt(messages), { greedy: true, maxTokens: 16, stop: ['\n用户：'] });
    expect(text).toBe(solo.text);
    expect(roles[0]).toBe('assistant');
    expect(finish).toMatch(/^(stop|length)$/);
  });
});
