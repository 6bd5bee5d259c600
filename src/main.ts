#!/usr/bin/env node
import { ConfigError, loadConfig, secretSourceOf } from './config.js';
import { readSecretDocument } from './secret-manager.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

/**
 * The start-up line in plain words. The default host (0.0.0.0) takes requests from every network
 * interface, which "listening on http://0.0.0.0:8202" does not tell a newcomer.
 */
function listeningMessage(host: string, url: string): string {
  if (host !== '0.0.0.0' && host !== '::') return `Kuueri Tasks listening on ${url}`;
  const port = new URL(url).port;
  return (
    `Kuueri Tasks listening on port ${port} of every network interface (http://localhost:${port} from this machine); ` +
    'set HOST=127.0.0.1 to take requests from this machine only'
  );
}

/** Entry point: configuration, start, and a graceful stop on SIGTERM / SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    const secret = secretSourceOf();
    config = loadConfig(undefined, undefined, secret ? await readSecretDocument(secret) : undefined);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const server = await startServer(config, logger);
  logger.info(
    // `LEVEL`, not `level`: pino writes its own `level` (the log level) into every line.
    { url: server.url, store: server.store.kind, LEVEL: config.level, configFile: config.configFile },
    listeningMessage(config.host, server.url),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new requests or claims; waiting for requests in flight');
    server.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Kuueri Tasks failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
