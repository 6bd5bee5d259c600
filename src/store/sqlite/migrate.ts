import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';

/*
 * Applies the numbered `.sql` files of ./migrations that are newer than the database's
 * `user_version`, each in its own transaction. Migrations are append-only: a released file never
 * changes; a change is a new file. They may call the SQL functions registered below.
 */

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}-[a-z0-9-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: Number(file.slice(0, 3)), name: file, sql: readFileSync(dir + file, 'utf8') }));
}

/** Functions for migrations that SQL alone cannot express. */
function registerFunctions(db: Database.Database): void {
  // 004: the sealed request's base64url text to the bytes it encodes.
  db.function('base64url_blob', { deterministic: true }, (text: unknown) => Buffer.from(String(text), 'base64url'));
}

export function migrate(db: Database.Database, migrations = loadMigrations()): number {
  registerFunctions(db);
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`The database is at schema version ${current}, newer than this server knows (${latest}); upgrade the server`);
  }
  let applied = 0;
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
    applied++;
  }
  return applied;
}
