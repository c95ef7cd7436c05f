export { migrate } from './migrate.js';
export type { MigrateOptions, MigrateEvent, MigrateSummary, TensorReport } from './migrate.js';
export { convertTensor } from './convert.js';
export type { OutputDType, Converted } from './convert.js';
export { configureMigrateCommand, createProgram, main } from './program.js';
export { createReporter, formatSummary } from './report.js';
export { parseSize } from './size.js';
