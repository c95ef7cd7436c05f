import {
  Cpm1Model,
  loadModel,
  streamCpm2Generate,
  streamGenerate,
  validateSamplingOptions,
} from '@bminf/models';
import type { Command } from 'commander';
import { type CommonOpts, deviceOption, loadOptions, threadsOption, dtypeOption, samplingOptions, toGenerateOptions } from '../options.js';
import { drain } from '../stream.js';

export function register(program: Command): void {
  const cmd = program
    .command('generate')
    .description('continue a prompt with CPM-1 or CPM-2 (streams the text; --json prints one object at the end)')
    .requiredOption('--model <dir>', 'model directory (config.json, weights, tokenizer)')
    .requiredOption('--prompt <text>', 'the text to continue')
    .addOption(dtypeOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .option('--stop <text...>', 'stop when the text contains one of these')
    .option('--ignore-eos', 'keep generating past the end-of-text token, up to --max-tokens (for timing runs)')
    .option('--json', 'print {"promptIds", "ids", "text", "tokensPerSecond"} and nothing else on stdout');
  for (const o of samplingOptions()) cmd.addOption(o);
  cmd.action(async (opts: CommonOpts & { prompt: string; stop?: string[]; ignoreEos?: boolean }) => {
    const options = { ...toGenerateOptions(opts), ...(opts.stop ? { stop: opts.stop } : {}), ...(opts.ignoreEos ? { stopTokens: [] } : {}) };
    validateSamplingOptions(options); // before the model loads, so a typo fails at once
    // CPM-2 / EVA (T5) directories continue the prompt through the encoder-decoder (BMInf's CPM2.generate).
    const model = await loadModel(opts.model, loadOptions(opts));
    try {
      const it = model instanceof Cpm1Model ? streamGenerate(model, opts.prompt, options) : streamCpm2Generate(model, opts.prompt, options);
      if (!opts.json) process.stdout.write(opts.prompt);
      const res = await drain(it, (chunk) => {
        if (!opts.json) process.stdout.write(chunk.text);
      });
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ promptIds: res.promptIds, ids: res.ids, text: res.text, tokensPerSecond: res.tokensPerSecond })}\n`,
        );
      } else {
        // stdout to a pipe is asynchronous: let the text land before the stats line on stderr.
        await new Promise<void>((done) => process.stdout.write('\n', () => done()));
        process.stderr.write(
          `[${res.ids.length} tokens, ${res.tokensPerSecond.toFixed(1)} tokens/s, ${model.backend.name}, ${model.dtype}, finished: ${res.finishReason}]\n`,
        );
      }
    } finally {
      model.dispose();
    }
  });
}
