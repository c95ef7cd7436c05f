// A small leveled logger on stderr, so that stdout stays clean for --json output.
// The level comes from BMINF_LOG (error, warn, info, debug); the default is warn.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  level: LogLevel;
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

function envLevel(): LogLevel {
  const v = process.env.BMINF_LOG;
  return v && v in ORDER ? (v as LogLevel) : 'warn';
}

export function createLogger(name: string, level: LogLevel = envLevel()): Logger {
  const logger: Logger = {
    level,
    error: (m) => write('error', m),
    warn: (m) => write('warn', m),
    info: (m) => write('info', m),
    debug: (m) => write('debug', m),
  };
  function write(l: LogLevel, msg: string): void {
    if (ORDER[l] <= ORDER[logger.level]) process.stderr.write(`[bminf:${name}] ${l}: ${msg}\n`);
  }
  return logger;
}

export const logger = createLogger('core');
