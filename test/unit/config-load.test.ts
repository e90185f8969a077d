/**
 * Loading the config file wherever it is: a `.ts` file outside any `"type": "module"` package (a
 * temp directory, a repo of plain scripts) loads as it does in this project, and a missing file is
 * named with the way to point at another.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/infra/config/load.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'rs-config-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = { appName: 'loaded', regions: ['us-east-1', 'eu-west-1'], tables: [{ name: 'orders', partitionKey: { name: 'pk', type: 'string' } }] };

describe('loadConfig', () => {
  it('loads a config file outside any package (Node would take it for CommonJS)', async () => {
    // Prepare
    const file = path.join(dir, 'regionsync.config.ts');
    writeFileSync(file, `const config = ${JSON.stringify(CONFIG)} as const;\nexport default config;\n`);

    // Act
    const loaded = await loadConfig(file);

    // Assess
    expect(loaded).toEqual(CONFIG);
  });

  it('loads this project`s own config file', async () => {
    const loaded = await loadConfig(path.resolve('regionsync.config.ts'));
    expect(loaded.appName).toBe('regionsync');
  });

  it('names a missing file and how to point at another', async () => {
    const missing = path.join(dir, 'nope.ts');
    await expect(loadConfig(missing)).rejects.toThrow(`config file ${missing} does not exist (pass --config FILE or set REGIONSYNC_CONFIG)`);
  });
});
