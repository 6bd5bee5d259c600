/*
 * A real browser for the web app's tests: the system's Chromium (Debian's /usr/bin/chromium; CI
 * installs it, see .ci/run) driven by playwright-core, headless and without any network of its
 * own (no updates, sync or background requests). One browser per test file, a fresh context (its
 * own sessionStorage, localStorage and cookies) per test. Also axe-core, injected into the page
 * from its package to judge each screen.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
}

/** What a page did that a test may hold against it: console lines, requests, CSP refusals, page errors. */
export interface PageRecord {
  console: string[];
  requests: string[];
  errors: string[];
}

/** A fresh context and page, recording what the page logs and requests. */
export async function openPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; record: PageRecord }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const record: PageRecord = { console: [], requests: [], errors: [] };
  page.on('console', (message) => record.console.push(`${message.type()}: ${message.text()}`));
  page.on('request', (request) => record.requests.push(request.url()));
  page.on('pageerror', (error) => record.errors.push(error.message));
  return { context, page, record };
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * The serious and critical accessibility violations axe-core finds on the page as it is now, one
 * line each (rule, help, where). The source goes in through the DevTools protocol, which the page's
 * CSP does not govern. (Page code is given as text: the tests' TypeScript has no DOM types.)
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate<boolean>("'axe' in window"))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate<AxeViolation[]>('axe.run(document).then((result) => result.violations)');
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}
