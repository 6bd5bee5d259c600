import pino from 'pino';

/** The slice of pino the modules use, so tests can pass a silent or capturing logger. */
export type Logger = Pick<pino.Logger, 'info' | 'warn' | 'error' | 'debug'>;

export function createLogger(level: string): pino.Logger {
  return pino({
    level,
    base: { service: 'kuueri-tasks' },
    // Secrets never reach the log: request headers and bodies are not logged, and these paths are redacted wherever they appear.
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token', 'tokenHash'],
      censor: '[redacted]',
    },
  });
}

export const silentLogger: Logger = pino({ level: 'silent' });
