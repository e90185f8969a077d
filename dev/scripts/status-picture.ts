/**
 * Makes the README's picture of `regionsync status` from a real run: moto, the real deploy of a
 * three-region config, the local runtime, plain writes in every region, one poison message (so
 * a DLQ fills) and one manual write fence; then `status` as text (docs/status.txt) and as a PNG
 * (docs/status.png, the HTML rendering screenshotted by headless Chromium).
 *
 *   npx tsx dev/scripts/status-picture.ts            # needs moto and chromium (apt-get install chromium)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { inboundQueueName } from '../../src/core/contract.ts';
import { WriteFence } from '../../src/client/fencing.ts';
import { dynamodb, sqs as sqsOf } from '../../src/ops/aws.ts';
import { bringUp } from '../cli/up.ts';
import { collectStatus } from '../../src/ops/status.ts';
import { renderStatusHtml, renderStatusText } from '../../src/ops/status-render.ts';
import { startMoto } from '../local/moto.ts';
import { sleep } from '../../src/core/concurrency.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = path.join(ROOT, 'docs');
const CONFIG = path.join(ROOT, 'scripts', 'status-picture.config.ts');

const moto = await startMoto();
const running = await bringUp({ endpoint: moto.endpoint, configFile: CONFIG, log: (l) => console.log(l) });
try {
  const { config } = running;
  const table = config.tables[0]!;
  const target = { endpoint: moto.endpoint };
  for (const region of table.regions) {
    for (let i = 0; i < 40; i++) {
      await dynamodb(target, region).send(new PutItemCommand({ TableName: table.name, Item: { id: { S: `${region}-${i}` }, total: { N: String(i) } } }));
    }
  }
  const poisoned = table.regions[1]!;
  const sqs = sqsOf(target, poisoned);
  const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: inboundQueueName(config.appName, table.name) }))).QueueUrl;
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '{"schema":1,"changes":[{"table":"orders","op":"put"}]}' }));
  await new WriteFence({ appName: config.appName, clients: (r) => dynamodb(target, r) }).setManual(table.regions[2]!, table.name, true, 'failover drill');
  // Replication, EMF extraction (1 s) and a queue depth sample (5 s).
  await sleep(12_000);

  const report = await collectStatus({ config, endpoint: moto.endpoint, windowMinutes: 5 });
  const text = renderStatusText(report);
  console.log(text);
  writeFileSync(path.join(DOCS, 'status.txt'), `$ npx regionsync status --endpoint ${moto.endpoint}\n${text}\n`);
  const html = renderStatusHtml(report, { command: 'npx regionsync status --endpoint http://localhost:5000' });
  const dir = mkdtempSync(path.join(tmpdir(), 'rs-status-'));
  writeFileSync(path.join(dir, 'status.html'), html);
  execFileSync(
    process.env.CHROMIUM ?? 'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      `--screenshot=${path.join(DOCS, 'status.png')}`,
      '--window-size=1040,380',
      `file://${path.join(dir, 'status.html')}`,
    ],
    { stdio: 'inherit' },
  );
  console.log(`wrote ${path.join(DOCS, 'status.png')} and status.txt`);
} finally {
  await running.stop();
  await moto.stop();
}
