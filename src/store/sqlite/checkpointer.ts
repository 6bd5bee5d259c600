import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/*
 * Checkpoints the WAL from a worker thread. SQLite's own automatic checkpoint runs inside a commit
 * on the writing thread, copying pages and fsyncing while requests and deliveries wait. The worker checkpoints every `intervalMs`; the
 * writer keeps a large automatic threshold only as a safety net should the worker fall behind.
 */

const WORKER = fileURLToPath(new URL('./checkpoint-worker.cjs', import.meta.url));

export class Checkpointer {
  private readonly worker: Worker;
  private closed = false;

  constructor(path: string, intervalMs = 100, onError: (message: string) => void = () => undefined) {
    this.worker = new Worker(WORKER, { workerData: { path, intervalMs }, execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (message: { error?: string }) => {
      if (message.error) onError(message.error);
    });
    this.worker.on('error', (error) => onError(error.message));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const done = new Promise<void>((resolve) => {
      this.worker.once('message', () => resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage('close');
    await done;
    await this.worker.terminate();
  }
}
