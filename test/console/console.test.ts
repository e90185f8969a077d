/**
 * The ops console in a real browser (headless Chromium driven by playwright-core), over a real
 * deployment on moto (`cdk deploy`, the local runtime publishing metrics, the alarm evaluator):
 * the page shows the dashboards the CDK app deployed, one view per region plus the global one;
 * the widgets show the metrics this test produced (changes applied and their lag per pair, the
 * depth of a dead-letter queue it filled); the DLQ alarm turns ALARM on the open page, without a
 * reload, and the change is listed. Not in `npm test` (time): `npm run test:console`, a step of
 * .ci/run. With REGIONSYNC_CONSOLE_SCREENSHOT=FILE it also writes the screenshot there
 * (docs/console.png is made so).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DescribeAlarmsCommand, GetDashboardCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deadLetterQueueName, globalDashboardName, regionDashboardName } from '../../src/core/contract.ts';
import { alarmName, METRICS, pairDimensions } from '../../src/core/metrics.ts';
import { cloudwatch as cloudwatchOf, dynamodb, sqs as sqsOf } from '../../src/ops/aws.ts';
import { serveConsole } from '../../src/cli/console.ts';
import type { ConsoleServer } from '../../src/ops/console-server.ts';
import { bringUp, type Running } from '../../dev/cli/up.ts';
import { launchChromium } from '../../dev/local/chromium.ts';
import { eventually } from '../support/eventually.ts';

const CONFIG = path.resolve(import.meta.dirname, 'fixtures/console.config.ts');
const APP = 'cons';
const TABLE = 'cons_items';
const [A, B] = ['us-east-2', 'eu-west-3'] as const;
const WRITES = 6;
const DLQ_MESSAGES = 3;
/** Page conditions: the page polls every second, the runtime samples queues every 5 s, the evaluator runs every 10 s. */
const PAGE_WAIT_MS = 60_000;

/** The page's DOM as the functions run in the browser use it (the project compiles without the DOM library). */
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  querySelectorAll(selector: string): Iterable<{ getAttribute(name: string): string | null }>;
};

let endpoint: string;
let running: Running;
let server: ConsoleServer;
let browser: Browser;
let page: Page;
let shots: string;

beforeAll(async () => {
  endpoint = inject('endpoint');
  shots = await mkdtemp(path.join(tmpdir(), 'regionsync-console-'));
  running = await bringUp({ endpoint, configFile: CONFIG, alarms: true, log: () => undefined });
  server = await serveConsole({ config: running.config, endpoint, port: 0, refreshSeconds: 1, minutes: 15 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await running?.stop();
  if (shots) await rm(shots, { recursive: true, force: true });
});

/** Opens a view and waits for its first data. */
async function open(view: string): Promise<void> {
  await page.goto(`${server.url}#view=${encodeURIComponent(view)}`);
  await page.waitForFunction((v) => document.body.dataset.viewLoaded === v, view, { timeout: PAGE_WAIT_MS });
}

/** The widget whose title starts with `title`, in the open view. */
const widget = (title: string) => `#grid > .widget[data-title^="${title}"]`;

/** Waits until the legend row `label` of the widget titled `title` has `attribute` equal to `value` (the page refreshes itself). */
async function legendReaches(title: string, label: string, attribute: 'latest' | 'sum', value: number): Promise<void> {
  await page.waitForFunction(
    ({ selector, label, attribute, value }) => {
      const row = [...document.querySelectorAll(`${selector} .legend tr`)].find((r) => r.getAttribute('data-label') === label);
      return row !== undefined && Number(row.getAttribute(`data-${attribute}`)) === value && row.getAttribute(`data-${attribute}`) !== '';
    },
    { selector: widget(title), label, attribute, value },
    { timeout: PAGE_WAIT_MS },
  );
}

async function legendValue(title: string, label: string, attribute: 'latest' | 'sum' | 'points'): Promise<string | null> {
  return page.locator(`${widget(title)} .legend tr[data-label="${label}"]`).getAttribute(`data-${attribute}`);
}

/** The newest value of one statistic of a pair's lag, read straight from the emulator's CloudWatch (not through the console). */
async function newestLag(stat: string): Promise<number | undefined> {
  const now = Date.now();
  const out = await cloudwatchOf({ endpoint }, B).send(
    new GetMetricDataCommand({
      StartTime: new Date(Math.floor((now - 15 * 60_000) / 300_000) * 300_000),
      EndTime: new Date(Math.floor(now / 60_000) * 60_000 + 60_000),
      ScanBy: 'TimestampDescending',
      MetricDataQueries: [
        {
          Id: 'lag',
          MetricStat: {
            Metric: {
              Namespace: METRICS.namespace,
              MetricName: METRICS.names.replicationLag,
              Dimensions: Object.entries(pairDimensions({ table: TABLE, source: A, target: B })).map(([Name, Value]) => ({ Name, Value })),
            },
            Period: 60,
            Stat: stat,
          },
        },
      ],
    }),
  );
  return out.MetricDataResults?.[0]?.Values?.[0];
}

describe('the ops console in a browser', () => {
  it('shows one view per region plus the global one, each with the widgets of the dashboard the CDK app deployed', async () => {
    // Prepare: the deployed global dashboard, read straight from the emulator.
    const body = (await cloudwatchOf({ endpoint }, A).send(new GetDashboardCommand({ DashboardName: globalDashboardName(APP) }))).DashboardBody!;
    const deployedTitles = (JSON.parse(body) as { widgets: { properties: { title?: string } }[] }).widgets.flatMap((w) =>
      w.properties.title ? [w.properties.title] : [],
    );

    // Act
    await open(globalDashboardName(APP));
    const views = await page.locator('#views a').evaluateAll((as) => as.map((a) => a.getAttribute('data-view')));
    const titles = await page.locator('#grid > .widget[data-title]:not([data-title=""])').evaluateAll((ws) => ws.map((w) => w.getAttribute('data-title')));

    // Assess
    expect(views).toEqual([globalDashboardName(APP), regionDashboardName(APP, A), regionDashboardName(APP, B)]);
    expect(titles).toEqual(deployedTitles);
    expect(deployedTitles).toContain(`${TABLE}: dead-letter queue depth per region`);
  });

  it("shows the changes the test wrote as applied in the target region's view, and their lag as CloudWatch holds it", async () => {
    // Prepare: writes in A, replicated to B, their lag in B's CloudWatch.
    for (let i = 0; i < WRITES; i++)
      await dynamodb({ endpoint }, A).send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: `w-${i}` }, n: { N: String(i) } } }));
    for (let i = 0; i < WRITES; i++) {
      const got = await eventually(
        () => dynamodb({ endpoint }, B).send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: `w-${i}` } } })),
        (o) => o.Item !== undefined,
      );
      expect(got.Item, `w-${i} in ${B}`).toBeDefined();
    }
    const samples = await eventually(
      () => newestLag('SampleCount'),
      (v) => (v ?? 0) >= WRITES,
    );
    expect(samples, 'lag samples in CloudWatch').toBeGreaterThanOrEqual(WRITES);

    // Act
    await open(regionDashboardName(APP, B));
    await legendReaches(`${TABLE}: changes per minute`, `applied from ${A}`, 'sum', WRITES);
    const p99 = await newestLag('p99');
    await legendReaches(`${TABLE}: replication lag into ${B}`, `p99 from ${A}`, 'latest', p99!);
    const shownMax = Number(await legendValue(`${TABLE}: replication lag into ${B}`, `max from ${A}`, 'latest'));

    // Assess: what the page shows is what the test produced.
    expect(await legendValue(`${TABLE}: changes per minute`, `applied from ${A}`, 'sum')).toBe(String(WRITES));
    expect(p99, 'p99 lag (ms)').toBeGreaterThan(0);
    expect(shownMax).toBe(await newestLag('Maximum'));
    expect(shownMax).toBeGreaterThanOrEqual(p99!);
    expect(await page.locator('#grid > .widget[data-error]').evaluateAll((ws) => ws.map((w) => w.getAttribute('data-error'))), 'widgets that failed').toEqual(
      [],
    );
    expect(await page.locator(`${widget(`${TABLE}: replication lag into ${B}`)} canvas`).count(), 'the lag chart is drawn').toBeGreaterThan(0);
  });

  it('shows the dead-letter queue the test filled, and its alarm turning ALARM on the open page', async () => {
    // Prepare: B's view open, its DLQ alarm OK.
    await open(regionDashboardName(APP, B));
    const dlqAlarm = `${widget(`Alarms in ${B}`)} li.alarm[data-name="${alarmName(APP, TABLE, 'dlq')}"][data-region="${B}"]`;
    await page.waitForSelector(`${dlqAlarm}[data-state="OK"]`, { timeout: PAGE_WAIT_MS });

    // Act: messages in B's DLQ; the page is not reloaded.
    const queue = sqsOf({ endpoint }, B);
    const url = (await queue.send(new GetQueueUrlCommand({ QueueName: deadLetterQueueName(APP, TABLE) }))).QueueUrl!;
    for (let i = 0; i < DLQ_MESSAGES; i++) await queue.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify({ test: i }) }));
    await legendReaches(`${TABLE}: dead-letter queue in ${B}`, 'messages', 'latest', DLQ_MESSAGES);
    await page.waitForSelector(`${dlqAlarm}[data-state="ALARM"]`, { timeout: PAGE_WAIT_MS });
    await page.waitForSelector(`#events li.event[data-name="${alarmName(APP, TABLE, 'dlq')}"][data-region="${B}"][data-to="ALARM"]`, { timeout: PAGE_WAIT_MS });

    // Assess: the page agrees with the emulator's alarm, and the global view shows the depth per region.
    const described = await cloudwatchOf({ endpoint }, B).send(new DescribeAlarmsCommand({ AlarmNames: [alarmName(APP, TABLE, 'dlq')] }));
    expect(described.MetricAlarms?.[0]?.StateValue).toBe('ALARM');
    expect(await page.locator('#firing').textContent()).toBe('1 alarm in ALARM');
    expect(
      await page.locator(`${widget(`Alarms in ${B}`)} li.alarm[data-state="ALARM"]`).evaluateAll((ls) => ls.map((l) => l.getAttribute('data-name'))),
    ).toEqual([alarmName(APP, TABLE, 'dlq')]);
    await open(globalDashboardName(APP));
    await legendReaches(`${TABLE}: dead-letter queue depth per region`, B, 'latest', DLQ_MESSAGES);
    expect(await legendValue(`${TABLE}: dead-letter queue depth per region`, A, 'latest')).toBe('0');
    // SEARCH expressions (conflicts per region, moto_math.py) read without error.
    expect(await page.locator('#grid > .widget[data-error]').count(), 'widgets that failed in the global view').toBe(0);
    expect(
      await page
        .locator(`#grid > .widget-alarm li.alarm[data-state="ALARM"]`)
        .evaluateAll((ls) => ls.map((l) => `${l.getAttribute('data-region')} ${l.getAttribute('data-name')}`)),
    ).toEqual([`${B} ${alarmName(APP, TABLE, 'dlq')}`]);
    await page.waitForTimeout(500);
    const file = process.env.REGIONSYNC_CONSOLE_SCREENSHOT ?? path.join(shots, 'console.png');
    await page.screenshot({ path: file, fullPage: true });
    expect((await stat(file)).size, `screenshot ${file}`).toBeGreaterThan(20_000);
  });
});
