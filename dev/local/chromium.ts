/**
 * Headless Chromium for what the project shows a person (the ops console's browser test, the
 * console's picture): Debian's `chromium` package (`apt-get install -y chromium`; .ci/run installs
 * it), driven by playwright-core, which never downloads a browser. On this offline machine
 * Chromium must try no network of its own, or its connections are refused; playwright gives
 * every launch a fresh profile.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Where Chromium is: $REGIONSYNC_CHROMIUM, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  return process.env.REGIONSYNC_CHROMIUM ?? '/usr/bin/chromium';
}

/** Launches headless Chromium; fails naming the path and the fix when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: apt-get install -y chromium (or set REGIONSYNC_CHROMIUM)`);
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
