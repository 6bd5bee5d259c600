// Copies the non-TypeScript files the server reads at run time (SQL migrations, Lua scripts, the
// plain-JS checkpoint worker) from src/ to dist/, keeping their paths, so `node dist/main.js` finds
// them where `tsx src/main.ts` does.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ASSET = /\.(sql|lua|cjs)$/;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (ASSET.test(name)) cpSync(path, join('dist', relative('src', path)));
  }
}
walk('src');
