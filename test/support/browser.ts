import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: `.ci/run` installs it (`apt-get install chromium`); tools may never download a browser of their own. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumInstalled = (): boolean => existsSync(CHROMIUM_PATH);

/**
 * Headless Chromium with no network of its own: without the background-networking flags it keeps trying to
 * reach outside hosts, which this project's tests never do.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
