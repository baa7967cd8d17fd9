/**
 * The browser tier: Debian's `chromium` package, driven by playwright-core through its
 * `executablePath`. Nothing downloads a browser (playwright-core never does, and no browser
 * registry is reachable here anyway). Each start gets a fresh profile directory in the run's
 * directory, so nothing carries over between suites and the run's sweep removes it.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { Stoppable, TargetProvider } from '../testing/tiers.js';
import { makeTempDir } from './run-scope.js';

export const CHROMIUM_PATH = process.env.BASTION_CHROMIUM ?? '/usr/bin/chromium';

/** The flags the project runs Chromium with: headless, no sandbox (CI runs as root), nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface BrowserTarget extends Stoppable {
  context: BrowserContext;
  /** A new tab of the same profile (one cookie jar for the suite). */
  newPage(): Promise<Page>;
}

export async function startChromium(): Promise<BrowserTarget> {
  const profile = await makeTempDir('bastion-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    newPage: () => context.newPage(),
    async stop() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export const chromiumProvider: TargetProvider<BrowserTarget> = {
  kind: 'Chromium browser',
  tier: 'browser',
  availability: () =>
    existsSync(CHROMIUM_PATH)
      ? { available: true }
      : {
          available: false,
          reason: `${CHROMIUM_PATH} not found (apt-get install chromium, or set BASTION_CHROMIUM)`,
        },
  start: startChromium,
};
