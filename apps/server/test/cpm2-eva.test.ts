// CPM-2's fill-blank and EVA's chat through the server (random tiny fixtures: well-formed gibberish),
// equal to the models' own greedy results.
import { type Cpm2Model, dialogue, fillBlank } from '@bminf/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, models, post, testServer } from './helpers.js';

describe('CPM-2: /v1/fill-blank', () => {
  let t: TestServer;
  let model: Cpm2Model;
  beforeAll(async () => {
    t = await testServer(models.cpm2);
    model = t.server.context.served?.model as Cpm2Model;
  });
  afterAll(() => t.server.close());
  const text = '天<span>地<span>。';

  it('reports the model as cpm2', async () => {
    const list = await t.client.models.list();
    expect(list.data[0]).toMatchObject({ id: 'cpm2-tiny', object: 'model', architecture: 'cpm2', device: 'cpu', dtype: 'int8' });
  });

  it('fills the blanks as fillBlank does (temperature 0 = greedy)', async () => {
    const res = await post(`${t.url}/v1/fill-blank`, { text, max_tokens: 16, temperature: 0 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; fills: string[]; text: string; usage: { prompt_tokens: number; completion_tokens: number } };
    const solo = await fillBlank(model, text, { greedy: true, maxTokens: 16 });
    expect(body.object).toBe('fill_blank');
    expect(body.fills).toEqual(solo.fills);
    expect(body.text).toBe(`天${solo.fills[0]}地${solo.fills[1]}。`);
    expect(body.usage).toMatchObject({ prompt_tokens: solo.encoderIds.length, completion_tokens: solo.ids.length });
  });

  it('streams blank by blank, then [DONE]', async () => {
    const res = await post(`${t.url}/v1/fill-blank`, { text, max_tokens: 16, temperature: 0, stream: true });
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    const solo = await fillBlank(model, text, { greedy: true, maxTokens: 16 });
    const blanks = chunks.filter((c) => c.blank !== undefined);
    expect(blanks.map((c) => c.text)).toEqual(solo.fills.slice(0, blanks.length));
    expect(chunks.at(-1)).toMatchObject({ finish_reason: expect.stringMatching(/^(stop|length)$/), usage: { completion_tokens: solo.ids.length } });
  });

  it('answers 400 for a text without <span>', async () => {
    const res = await post(`${t.url}/v1/fill-blank`, { text: '天地' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/<span>/);
  });
});

describe('EVA: /v1/chat/completions', () => {
  let t: TestServer;
  let model: Cpm2Model;
  beforeAll(async () => {
    t = await testServer(models.eva);
    model = t.server.context.served?.model as Cpm2Model;
  });
  afterAll(() => t.server.close());
  const messages = [
    { role: 'system' as const, content: '不给 EVA' },
    { role: 'user' as const, content: '你好' },
    { role: 'assistant' as const, content: '你好，你是谁？' },
    { role: 'user' as const, content: '我是学生。' },
  ];

  it('replies with EVA’s dialogue over the turns (system messages dropped)', async () => {
    const r = await t.client.chat.completions.create({ model: 'eva', messages, max_tokens: 12, temperature: 0 });
    const solo = await dialogue(model, ['你好', '你好，你是谁？', '我是学生。'], { greedy: true, maxTokens: 12 });
    expect(r.choices[0].message.content).toBe(solo.reply);
    expect(r.choices[0].finish_reason).toBe(solo.finishReason === 'sep' ? 'stop' : 'length');
    expect(r.usage).toMatchObject({ prompt_tokens: solo.encoderIds.length, completion_tokens: solo.ids.length });
  });

  it('streams the same reply', async () => {
    const stream = await t.client.chat.completions.create({ model: 'eva', messages, max_tokens: 12, temperature: 0, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    const solo = await dialogue(model, ['你好', '你好，你是谁？', '我是学生。'], { greedy: true, maxTokens: 12 });
    expect(text).toBe(solo.reply);
  });
});
