/**
 * Makes the README's picture of the ops console (docs/console.png) from a real run, and is the
 * console's chaos walk-through: moto, the real deploy (dev/scripts/console-picture.config.ts),
 * the local runtime behind the chaos proxy with the alarm evaluator, the console, and a steady
 * workload in both regions. After a minute one region is cut off for 90 s (`cut region=R`, as
 * `regionsync up --chaos` does): changes park in the other region's outage backlog, its
 * parked-age alarm fires; after the heal the backlog drains, the lag of the drained changes
 * fires the lag alarms. Headless Chromium, with the page open all along, screenshots the other
 * region's view once the lag alarm fires.
 *
 *   npx tsx dev/scripts/console-picture.ts          # needs moto and chromium (apt-get install chromium); about 4 minutes
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { regionDashboardName } from '../../src/core/contract.ts';
import { alarmName } from '../../src/core/metrics.ts';
import { sleep } from '../../src/core/concurrency.ts';
import { dynamodb } from '../../src/ops/aws.ts';
import { serveConsole } from '../../src/cli/console.ts';
import { bringUp } from '../cli/up.ts';
import { startMoto } from '../local/moto.ts';
import { launchChromium } from '../local/chromium.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = path.join(ROOT, 'dev', 'scripts', 'console-picture.config.ts');
const OUT = process.env.OUT ?? path.join(ROOT, 'docs', 'console.png');
const minute = 60_000;

const moto = await startMoto();
const running = await bringUp({ endpoint: moto.endpoint, configFile: CONFIG, chaos: '', alarms: true, log: (l) => console.log(l) });
const server = await serveConsole({ config: running.config, endpoint: moto.endpoint, port: 0, refreshSeconds: 2, minutes: 15 });
console.log(`console: ${server.url}`);
try {
  const table = running.config.tables[0]!;
  const [a, b] = table.regions as [string, string];
  let n = 0;
  let writing = true;
  const workload = (async () => {
    while (writing) {
      for (const region of [a, b]) {
        await dynamodb({ endpoint: moto.endpoint }, region)
          .send(new PutItemCommand({ TableName: table.name, Item: { id: { S: `${region}-${n % 500}` }, total: { N: String(n) } } }))
          .catch(() => undefined);
      }
      n++;
      await sleep(250);
    }
  })();
  const step = async (what: string, ms: number) => {
    console.log(`${new Date().toISOString().slice(11, 19)} ${what}`);
    await sleep(ms);
  };
  const browser = await launchChromium();
  try {
    // The page is open from the start, as an operator's would be.
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const view = regionDashboardName(running.config.appName, a);
    await page.goto(`${server.url}#view=${view}`);
    await step('healthy', minute);
    const heal = running.chaos!.add({ kind: 'cut', region: b, scope: 'cross', mode: 'refuse', ms: 0 });
    await step(`${b} cut off`, 90_000);
    heal();
    await step(`${b} back: the backlog drains`, 5_000);
    const lagAlarm = running.alarms!.alarms.find((x) => x.region === a && x.name === alarmName(running.config.appName, table.name, 'lagP99', b))!;
    for (let i = 0; i < 60 && lagAlarm.state !== 'ALARM'; i++) await sleep(1000);
    await step(`${lagAlarm.name} in ${a}: ${lagAlarm.state}`, 8_000);
    await page.screenshot({ path: OUT, fullPage: true });
    console.log(`wrote ${OUT}`);
  } finally {
    writing = false;
    await workload;
    await browser.close();
  }
} finally {
  await server.close();
  await running.stop();
  await moto.stop();
}
