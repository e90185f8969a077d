#!/usr/bin/env node
// The `regionsync` command. In the checkout it loads the TypeScript sources through tsx (no build
// step) with the local environment's commands (dev/cli: up, demo, bench, ...); installed from the
// package, where dev/ is absent, it runs the compiled CLI (dist/src/cli/bin.js): the operator's commands.
import { existsSync } from 'node:fs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const checkout = new URL('../dev/cli/index.ts', import.meta.url);
if (existsSync(checkout)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(checkout.href);
} else {
  await import(new URL('../dist/src/cli/bin.js', import.meta.url).href);
}
