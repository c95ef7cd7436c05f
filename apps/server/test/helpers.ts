// Shared by the server's tests: a real server on 127.0.0.1 (a free port) over a real model on the CPU.
import { type Cpm1Model, Engine, type GenerateOptions, type GenerateResult } from '@bminf/models';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import OpenAI from 'openai';
import { type BminfServer, type ServerOptions, startServer } from '../src/index.js';

export const root = join(import.meta.dirname, '..', '..', '..');
export const models = {
  tinyCpm1: join(root, 'models', 'tiny-cpm1'),
  cpm2: join(root, 'models', 'fixtures', 'cpm2-tiny'),
  eva: join(root, 'models', 'fixtures', 'eva-tiny'),
};

/** The programs, as `pnpm build` leaves them. */
export const serverBin = join(root, 'apps', 'server', 'dist', 'bin.js');
export const cliBin = join(root, 'apps', 'cli', 'dist', 'bin.js');

export interface TestServer {
  server: BminfServer;
  client: OpenAI;
  url: string;
}

/** A server on a free loopback port with the model loaded, and an OpenAI client for it (no retries). */
export async function testServer(dir: string, options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const server = await startServer({ model: { dir, dtype: 'int8', device: 'cpu' }, port: 0, log: false, ...options });
  await server.ready;
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: options.apiKey ?? 'none', maxRetries: 0 });
  return { server, client, url: server.url };
}

/** Polls until cond() holds (or fails the test after timeoutMs). */
export async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`waited ${timeoutMs} ms for ${cond.toString()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** Starts a server program and resolves with its URL once it says the model is served. */
export async function startProgram(args: string[]): Promise<{ child: ChildProcess; url: string; stdout: () => string; stderr: () => string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving .* at (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
  });
  return { child, url, stdout: () => out, stderr: () => err };
}

/**
 * What the model generates for a prompt decoded alone, by the same kind of runner the server uses (an
 * engine of one slot): the reference a server response is compared with.
 */
export async function alone(model: Cpm1Model, prompt: string, options: GenerateOptions): Promise<GenerateResult> {
  const engine = new Engine(model, { maxBatch: 1 });
  try {
    const it = engine.generate(prompt, options);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  } finally {
    await engine.close();
  }
}
