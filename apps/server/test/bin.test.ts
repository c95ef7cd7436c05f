// The real programs (built by `pnpm build`): bminf-server and `bminf serve`, in child processes.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliBin, models, post, serverBin, startProgram } from './helpers.js';

beforeAll(() => {
  for (const bin of [serverBin, cliBin]) if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first.`);
});

describe('bminf-server', () => {
  it('binds 127.0.0.1, logs one line per request, and on SIGTERM finishes the request in flight, then exits 0', async () => {
    const s = await startProgram([serverBin, '--model', models.tinyCpm1, '--device', 'cpu', '--port', '0', '--max-batch', '2']);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    const res = await post(`${s.url}/v1/completions`, { prompt: '床前明月光，', max_tokens: 400, stop: [], temperature: 1, stream: true });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let body = new TextDecoder().decode((await reader.read()).value);
    const exited = once(s.child, 'exit');
    s.child.kill('SIGTERM');
    for (let r = await reader.read(); !r.done; r = await reader.read()) body += new TextDecoder().decode(r.value);
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(body).toMatch(/"finish_reason":"(stop|length)"/);
    const [code] = await exited;
    expect(code).toBe(0);
    expect(s.stderr()).toMatch(/SIGTERM: finishing the requests in flight/);
    const lines = s.stdout().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; status?: number });
    const requests = lines.filter((l) => l.status !== undefined).map((l) => l.msg);
    expect(requests).toEqual(['GET /health 200', 'POST /v1/completions 200']);
  });
});

describe('bminf serve', () => {
  it('takes the flags the issue names', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [cliBin, 'serve', '--help']);
    for (const flag of ['--model <dir>', '--device <device>', '--dtype <dtype>', '--host <host>', '--port <port>', '--api-key <key>', '--max-queue <n>', '--max-batch <n>']) {
      expect(stdout).toContain(flag);
    }
    expect(stdout).toMatch(/--host <host> .*\(default: "127\.0\.0\.1"\)/);
    expect(stdout).toMatch(/--port <port> .*\(default: 8080\)/);
  });

  it('serves a model', async () => {
    const s = await startProgram([cliBin, 'serve', '--model', models.tinyCpm1, '--device', 'cpu', '--port', '0']);
    try {
      const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data[0].id).toBe('tiny-cpm1');
    } finally {
      s.child.kill('SIGTERM');
      await once(s.child, 'exit');
    }
  });

  it('rejects a bad --max-batch with exit code 1 and one line', async () => {
    const r = await promisify(execFile)(process.execPath, [cliBin, 'serve', '--model', models.tinyCpm1, '--max-batch', '0']).catch((e: { code: number; stderr: string }) => e);
    expect(r).toMatchObject({ code: 1 });
    expect((r as { stderr: string }).stderr).toBe('bminf: error: --max-batch must be an integer from 1 to 256, but is "0".\n');
  });
});
