import { stdoutClosedSignal, UnsupportedError } from '@bminf/core';
import {
  Cpm1Model,
  loadModel,
  streamCpm2Generate,
  streamGenerate,
  validateSamplingOptions,
} from '@bminf/models';
import { type Command, Option } from 'commander';
import { type CommonOpts, deviceOption, dtypeOption, samplingOptions, toGenerateOptions } from '../options.js';
import { drain } from '../stream.js';

export function register(program: Command): void {
  const cmd = program
    .command('generate')
    .description('continue a prompt with CPM-1 or CPM-2 (streams the text; --json prints one object at the end)')
    .requiredOption('--model <dir>', 'model directory (config.json, weights, tokenizer)')
    // Collected so a repeated --prompt is seen (and refused) rather than silently keeping the last one.
    .addOption(
      new Option('--prompt <text>', 'the text to continue')
        .makeOptionMandatory()
        .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .addOption(dtypeOption())
    .addOption(deviceOption())
    .option('--stop <text...>', 'stop when the text contains one of these')
    .option('--json', 'print {"promptIds", "ids", "text", "tokensPerSecond"} and nothing else on stdout');
  for (const o of samplingOptions()) cmd.addOption(o);
  cmd.action(async (opts: CommonOpts & { prompt: string[]; stop?: string[] }) => {
    if (opts.prompt.length > 1) {
      throw new UnsupportedError(`generate got ${opts.prompt.length} --prompt values; generating for several prompts at once is not supported yet.`, {
        hint: 'Give one --prompt, and run the command once per prompt.',
      });
    }
    const prompt = opts.prompt[0];
    // A closed stdout stops the generation (the command then exits quietly).
    const options = { ...toGenerateOptions(opts), ...(opts.stop ? { stop: opts.stop } : {}), signal: stdoutClosedSignal() };
    validateSamplingOptions(options); // before the model loads, so a typo fails at once
    // CPM-2 / EVA (T5) directories continue the prompt through the encoder-decoder (BMInf's CPM2.generate).
    const model = await loadModel(opts.model, { dtype: opts.dtype, device: opts.device });
    try {
      const it = model instanceof Cpm1Model ? streamGenerate(model, prompt, options) : streamCpm2Generate(model, prompt, options);
      if (!opts.json) process.stdout.write(prompt);
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
