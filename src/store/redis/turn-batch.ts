import type { TurnWrites } from './turn-writes.js';

interface Waiting<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers the calls of one turn of the event loop into commands of at most `maxItems`: each full
 * one is sent at the end of the tick that filled it, the last with the turn's other writes. A
 * script call per write would cost Redis and the client a command, a promise and a reply each; one
 * call per turn shares that cost, and bench/micro/insert-loop.ts measures both.
 * `send` answers one result per item, in order; if it fails, every item of the batch fails with it.
 */
export class TurnBatch<Item, Result> {
  private waiting: Waiting<Item, Result>[] = [];

  constructor(
    private readonly writes: TurnWrites,
    private readonly send: (items: Item[]) => Promise<Result[]>,
    /** A full batch is sent at once (at the end of the tick that filled it). */
    private readonly maxItems: number,
  ) {}

  add(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      if (this.waiting.length === 0) this.writes.beforeRelease(() => this.flush());
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= this.maxItems) {
        this.flush();
        // And it leaves now, not with the rest of the turn: Redis starts on it while this thread
        // handles the turn's other requests, and its callers hear back sooner.
        this.writes.sendSoon();
      }
    });
  }

  private flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    this.send(batch.map((w) => w.item)).then(
      (results) => {
        if (results.length !== batch.length) {
          const error = new Error(`a batch of ${batch.length} was answered with ${results.length} results`);
          for (const w of batch) w.reject(error);
          return;
        }
        batch.forEach((w, i) => w.resolve(results[i]!));
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    );
  }
}
