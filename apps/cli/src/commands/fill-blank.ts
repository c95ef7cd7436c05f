import { Cpm2Model, SPAN_TOKEN, fillBlankInput, streamFillBlank, validateSamplingOptions } from '@bminf/models';
import type { Command } from 'commander';
import { type CommonOpts, deviceOption, loadOptions, memoryLimitOption, threadsOption, dtypeOption, samplingOptions, toGenerateOptions } from '../options.js';
import { drain } from '../stream.js';

/** `bminf fill-blank`: CPM-2's fill-in-the-blank, printed blank by blank as the model closes each. */
export function register(program: Command): void {
  const cmd = program
    .command('fill-blank')
    .description(`fill the ${SPAN_TOKEN} blanks of a text with CPM-2 (at most 16; --json prints one object at the end)`)
    .requiredOption('--model <dir>', 'CPM-2 model directory (config.json, safetensors, vocab.txt)')
    .requiredOption('--text <text>', `the text, each blank marked ${SPAN_TOKEN}`)
    .addOption(dtypeOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .addOption(memoryLimitOption())
    .option('--json', 'print {"ids", "fills"} and nothing else on stdout');
  for (const o of samplingOptions()) cmd.addOption(o);
  cmd.action(async (opts: CommonOpts & { text: string }) => {
    const options = toGenerateOptions(opts);
    validateSamplingOptions(options); // before the model loads, so a typo fails at once
    const model = await Cpm2Model.load(opts.model, loadOptions(opts, 1));
    try {
      fillBlankInput(model, opts.text); // no or too many <span>: fail before the encoder runs
      const t0 = performance.now();
      const res = await drain(streamFillBlank(model, opts.text, options), (chunk) => {
        if (!opts.json) process.stdout.write(`[${chunk.blank}] ${chunk.text}${chunk.complete ? '' : ' …'}\n`);
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ids: res.ids, fills: res.fills })}\n`);
      } else {
        const parts = opts.text.split(SPAN_TOKEN);
        process.stdout.write(`${parts.map((p, i) => (i < res.fills.length ? p + res.fills[i] : p)).join('')}\n`);
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
