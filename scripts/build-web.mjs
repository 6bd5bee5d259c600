// Builds the web app (web/) into dist/web with Vite: one HTML page, hashed script and style files
// under /dashboard/assets/, served by src/api/routes/dashboard.ts. Preact's JSX needs no plugin:
// Oxc turns it into calls to preact's jsx runtime.
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('../web/', import.meta.url));
await build({
  root,
  base: '/dashboard/',
  configFile: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web/', import.meta.url)),
    emptyOutDir: true,
    // Every browser the app targets loads modules natively; the preload polyfill would be dead weight.
    modulePreload: { polyfill: false },
    // Images stay files: the page's CSP keeps data: for img only, and a small app has none to inline anyway.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    sourcemap: false,
  },
});
