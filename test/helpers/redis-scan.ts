/*
 * Every value a Redis holds, read raw: for tests that search the store for what must not be in it
 * (a secret in clear text).
 */
import type { Redis } from 'ioredis';

export interface StoredValue {
  db: number;
  key: string;
  type: string;
  /** The key name and every member, field and value, as raw bytes. */
  parts: Buffer[];
}

/**
 * Every key of databases 0-3, found with SCAN (never KEYS), with its whole value read by type:
 * strings, hashes, lists, sets and sorted sets (with scores). Answers one entry per key.
 */
export async function scanEveryValue(client: Redis, databases: readonly number[] = [0, 1, 2, 3]): Promise<StoredValue[]> {
  const out: StoredValue[] = [];
  for (const db of databases) {
    await client.select(db);
    let cursor = '0';
    for (let page = 0; page < 100_000; page++) {
      const [next, keys] = await client.scanBuffer(cursor, 'COUNT', 200);
      for (const keyBuffer of keys) {
        const key = keyBuffer.toString('latin1');
        const type = await client.type(keyBuffer);
        const parts: Buffer[] = [keyBuffer];
        switch (type) {
          case 'string': {
            const value = await client.getBuffer(keyBuffer);
            if (value) parts.push(value);
            break;
          }
          case 'hash': {
            const flat = await client.hgetallBuffer(keyBuffer);
            for (const [field, value] of Object.entries(flat)) parts.push(Buffer.from(field, 'utf8'), value);
            break;
          }
          case 'list':
            parts.push(...(await client.lrangeBuffer(keyBuffer, 0, -1)));
            break;
          case 'set':
            parts.push(...(await client.smembersBuffer(keyBuffer)));
            break;
          case 'zset':
            parts.push(...(await client.zrangeBuffer(keyBuffer, '0', '-1', 'WITHSCORES')));
            break;
          case 'none':
            continue; // expired between SCAN and TYPE
          default:
            throw new Error(`db ${db} key ${key} has a type this scan does not read: ${type}`);
        }
        out.push({ db, key, type, parts });
      }
      cursor = next.toString();
      if (cursor === '0') break;
    }
  }
  await client.select(0);
  return out;
}
