// Copies the non-TypeScript files the server reads at run time (SQL migrations, Lua scripts, the
// plain-JS checkpoint worker) from src/ to dist/, keeping their paths, so `node dist/main.js` finds
// them where `tsx src/main.ts` does. Such files in dist/ whose source is gone are removed: the
// server reads whole folders of them (every migration there runs), so one left by another checkout
// would be applied.
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ASSET = /\.(sql|lua|cjs)$/;
function walk(dir, visit) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, visit);
    else if (ASSET.test(name)) visit(path);
  }
}
walk('src', (path) => cpSync(path, join('dist', relative('src', path))));
walk('dist', (path) => {
  if (!path.startsWith(join('dist', 'web')) && !existsSync(join('src', relative('dist', path)))) rmSync(path);
});
