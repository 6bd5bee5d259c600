import { monotonic } from '../core/clock.js';
import type { RequestCipher } from '../core/sealed-request.js';
import { type SigningKeys, signingAad, signingKeys } from '../core/signing.js';
import type { TaskStore } from '../store/task-store.js';

/*
 * The signing keys of the projects whose tasks this server sends, opened once and kept for a few
 * seconds: a delivery then costs one HMAC of its body, not a store read and a decryption. A
 * rotation through this server drops its project's entry at once (forget); other servers sharing
 * the store see it within CACHE_MS, and the rotation's grace period covers that time.
 */

/** How long opened keys are used before the store is read again. */
export const SIGNING_CACHE_MS = 5_000;
const CACHE_SIZE = 10_000;

interface Entry {
  keys: SigningKeys | null;
  readAt: number;
}

export class DeliverySigner {
  private readonly cache = new Map<string, Entry>();
  /** Reads under way, so a burst of one project's deliveries reads its keys once. */
  private readonly reading = new Map<string, Promise<SigningKeys | null>>();
  /** Counts forget() calls: a read that began before one must not cache what it read. */
  private generation = 0;

  constructor(
    private readonly store: Pick<TaskStore, 'readSigningKeys'>,
    private readonly cipher: RequestCipher,
    private readonly cacheMs = SIGNING_CACHE_MS,
  ) {}

  /** The project's keys (null when it has none yet), at once when cached. */
  keysFor(projectId: string): SigningKeys | null | Promise<SigningKeys | null> {
    const cached = this.cache.get(projectId);
    if (cached && monotonic() - cached.readAt < this.cacheMs) return cached.keys;
    let read = this.reading.get(projectId);
    if (!read) {
      const started = this.read(projectId).finally(() => {
        if (this.reading.get(projectId) === started) this.reading.delete(projectId);
      });
      this.reading.set(projectId, started);
      read = started;
    }
    return read;
  }

  /** Drops what is cached for the project (its keys were rotated here). */
  forget(projectId: string): void {
    this.generation++;
    this.cache.delete(projectId);
    this.reading.delete(projectId);
  }

  private async read(projectId: string): Promise<SigningKeys | null> {
    const generation = this.generation;
    const stored = await this.store.readSigningKeys(projectId);
    const aad = signingAad(projectId);
    const keys = stored
      ? signingKeys(
          this.cipher.openBytes(stored.current, aad),
          stored.previous ? this.cipher.openBytes(stored.previous, aad) : null,
          stored.previousUntil,
        )
      : null;
    if (generation !== this.generation) return keys;
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(projectId, { keys, readAt: monotonic() });
    return keys;
  }
}
