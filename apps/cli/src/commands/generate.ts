import { InvalidArgumentError, stdoutClosedSignal } from '@bminf/core';
import {
  Cpm1Model,
  type Cpm2Model,
  Engine,
  type GenerateResult,
  MAX_DECODER_TOKENS,
  MAX_ENCODER_TOKENS,
  loadModel,
  validateSamplingOptions,
} from '@bminf/models';
import { type Command, Option } from 'commander';
import { type CommonOpts, deviceOption, dtypeOption, loadOptions, samplingOptions, memoryLimitOption, threadsOption, toGenerateOptions } from '../options.js';
import { drain } from '../stream.js';

export function register(program: Command): void {
  const cmd = program
    .command('generate')
    .description('continue a prompt with CPM-1 or CPM-2 (streams the text; --json prints one object at the end)')
    .requiredOption('--model <dir>', 'model directory (config.json, weights, tokenizer)')
    // Repeatable: several prompts decode together as one batch (--json then prints an array).
    .addOption(
      new Option('--prompt <text>', 'the text to continue (repeat it to generate for several prompts as one batch)')
        .makeOptionMandatory()
        .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .addOption(dtypeOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .addOption(memoryLimitOption())
    .option('--stop <text...>', 'stop when the text contains one of these')
    .option('--ignore-eos', 'keep generating past the end-of-text token, up to --max-tokens (for timing runs)')
    .option('--json', 'print {"promptIds", "ids", "text", "tokensPerSecond"} (an array of them, in order, for several prompts) and nothing else on stdout');
  for (const o of samplingOptions()) cmd.addOption(o);
  cmd.action(async (opts: CommonOpts & { prompt: string[]; stop?: string[]; ignoreEos?: boolean }) => {
    if (opts.prompt.length > MAX_PROMPTS) {
      throw new InvalidArgumentError(`generate takes at most ${MAX_PROMPTS} --prompt values, not ${opts.prompt.length}.`, {
        hint: 'Split the prompts over several runs.',
      });
    }
    // A closed stdout stops the generation (the command then exits quietly).
    const options = {
      ...toGenerateOptions(opts),
      ...(opts.stop ? { stop: opts.stop } : {}),
      ...(opts.ignoreEos ? { stopTokens: [] } : {}),
      signal: stdoutClosedSignal(),
    };
    validateSamplingOptions(options); // before the model loads, so a typo fails at once
    // CPM-2 / EVA (T5) directories continue the prompt through the encoder-decoder (BMInf's CPM2.generate).
    const model = await loadModel(opts.model, loadOptions(opts, opts.prompt.length));
    // Every prompt is a sequence of one engine: several prompts decode together, as one batch.
    const engine = new Engine(model, { maxBatch: opts.prompt.length, ...engineLimits(model, opts.prompt, options.maxTokens ?? 64) });
    try {
      // CPM-1: plan (record) the steps these prompts need now, with the model's load, rather than on
      // their first use inside the generation (and its tokens/s): only their prompt lengths' prefill
      // bucket and the decode step.
      if (model instanceof Cpm1Model) await engine.prepare(Math.max(...opts.prompt.map((p) => model.encode(p).length)));
      if (opts.prompt.length === 1) {
        const prompt = opts.prompt[0];
        if (!opts.json) process.stdout.write(prompt);
        const res = await drain(engine.generate(prompt, options), (chunk) => {
          if (!opts.json) process.stdout.write(chunk.text);
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(resultJson(res))}\n`);
        else await printStats(res, model);
        return;
      }
      const results = await Promise.all(opts.prompt.map((p) => drain(engine.generate(p, options), () => {})));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(results.map(resultJson))}\n`);
        return;
      }
      for (let i = 0; i < results.length; i++) {
        process.stdout.write(`${opts.prompt[i]}${results[i].text}\n`);
        await printStats(results[i], model);
      }
    } finally {
      await engine.close();
      model.dispose();
    }
  });
}

/** At most this many --prompt values decode together. */
const MAX_PROMPTS = 64;

function resultJson(res: GenerateResult) {
  return { promptIds: res.promptIds, ids: res.ids, text: res.text, tokensPerSecond: res.tokensPerSecond };
}

async function printStats(res: GenerateResult, model: Cpm1Model | Cpm2Model): Promise<void> {
  // stdout to a pipe is asynchronous: let the text land before the stats line on stderr.
  await new Promise<void>((done) => process.stdout.write('\n', () => done()));
  process.stderr.write(
    `[${res.ids.length} tokens, ${res.tokensPerSecond.toFixed(1)} tokens/s, ${model.backend.name}, ${model.dtype}, finished: ${res.finishReason}]\n`,
  );
}

/**
 * The engine's per-sequence caches sized to this run: CPM-2's encoder holds the longest prompt (and its
 * sentinel), its decoder the new tokens (after <s> <s_189>); CPM-1 keeps its whole context.
 */
function engineLimits(model: Cpm1Model | Cpm2Model, prompts: string[], maxTokens: number) {
  if (model instanceof Cpm1Model) return {};
  const longest = Math.max(...prompts.map((p) => model.encode(p).length));
  return {
    maxEncoderLength: Math.min(MAX_ENCODER_TOKENS, Math.max(1, longest + 1)),
    maxDecoderLength: Math.min(MAX_DECODER_TOKENS, maxTokens + 2),
  };
}
