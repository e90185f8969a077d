#!/usr/bin/env node
// The `regionsync` command. Loads the TypeScript sources through tsx, so the checkout needs no build step.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
await import('../dev/cli/index.ts');
