import { Cpm2Model, streamDialogue, validateSamplingOptions } from '@bminf/models';
import type { Command } from 'commander';
import { type CommonOpts, deviceOption, loadOptions, memoryLimitOption, threadsOption, dtypeOption, samplingOptions, toGenerateOptions } from '../options.js';
import { drain } from '../stream.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `bminf dialogue`: EVA's reply to a conversation, streamed token by token. */
export function register(program: Command): void {
  const cmd = program
    .command('dialogue')
    .description('reply to a conversation with EVA (streams the reply; --json prints one object at the end)')
    .requiredOption('--model <dir>', 'EVA model directory (config.json, safetensors, vocab.txt)')
    .option('--context <text>', 'one turn of the conversation, oldest first (repeat for each turn)', collect, [])
    .addOption(dtypeOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .addOption(memoryLimitOption())
    .option('--json', 'print {"ids", "reply"} and nothing else on stdout');
  for (const o of samplingOptions()) cmd.addOption(o);
  cmd.action(async (opts: CommonOpts & { context: string[] }) => {
    const options = toGenerateOptions(opts);
    validateSamplingOptions(options);
    if (opts.context.length === 0) {
      cmd.error('error: the conversation is empty: give at least one --context <text> (repeat it for each turn, oldest first)');
    }
    const model = await Cpm2Model.load(opts.model, loadOptions(opts, 1));
    try {
      const t0 = performance.now();
      const res = await drain(streamDialogue(model, opts.context, options), (chunk) => {
        if (!opts.json) process.stdout.write(chunk.text);
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ids: res.ids, reply: res.reply })}\n`);
      } else {
        process.stdout.write('\n');
        const s = (performance.now() - t0) / 1000;
        process.stderr.write(
          `[${res.ids.length} tokens, ${(res.ids.length / s).toFixed(1)} tokens/s, ${model.backend.name}, ${model.dtype}, finished: ${res.finishReason}]\n`,
        );
      }
    } finally {
      model.dispose();
    }
  });
}
