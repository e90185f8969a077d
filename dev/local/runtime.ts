/**
 * The local Lambda runtime: discovers what is deployed in each region of the emulator, runs
 * every function in its own worker (function-host.ts) and feeds it from its enabled event
 * source mappings (stream-poller.ts, sqs-poller.ts), as the Lambda service would.
 */
import { resolve } from 'node:path';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { CheckpointStore } from './checkpoints.ts';
import { createRegionClients, destroyRegionClients, type Credentials, type RegionClients } from './clients.ts';
import { discoverFunctions, type DeployedFunction, type EventSourceMappingInfo, type FunctionInfo } from './discovery.ts';
import { FunctionHost, type FunctionHostOptions, type InvokeOutcome, type LogHandler } from './function-host.ts';
import { isDispatchDisabled } from './moto.ts';
import { newStats, type LogLevel, type MappingStats, type RuntimeLogger } from './poller-common.ts';
import { LocalMetrics } from './service-metrics.ts';
import { discoverSchedules, SchedulePoller, type ScheduledTarget } from './schedules.ts';
import { SqsPoller } from './sqs-poller.ts';
import { StreamPoller } from './stream-poller.ts';
import { errorMessage } from '../../src/core/errors.ts';
import { EMULATOR_CREDENTIALS } from '../../src/ops/aws.ts';

export interface RuntimeOptions {
  /** Emulator endpoint, e.g. http://localhost:5000. */
  readonly endpoint: string;
  readonly regions: readonly string[];
  /** Local state (code cache, checkpoints); default `.regionsync` in the working directory. */
  readonly stateDir?: string;
  /** Print function output prefixed with [region/function], and the runtime's info messages. */
  readonly verbose?: boolean;
  /** Receives every line a function writes. */
  readonly onLog?: LogHandler;
  /** Receives the runtime's own messages (default: warnings and errors to stderr; info too when verbose). */
  readonly logger?: RuntimeLogger;
  readonly credentials?: Credentials;
  /** Execution environments per function (default 1: invocations of a function run one at a time). */
  readonly poolSize?: number;
  /** Receive loops per SQS mapping (default 1). */
  readonly sqsPollers?: number;
  /** Function name → directory with its code, instead of the deployed package. */
  readonly codeOverrides?: Readonly<Record<string, string>>;
  /**
   * Run only the functions this accepts (the others are not fetched nor polled): several
   * runtimes can then share one emulator, each running its own app's or tables' functions.
   * @default every function in `regions`
   */
  readonly include?: (fn: FunctionInfo) => boolean;
  /** Stream polling interval when idle (default 250 ms, like Lambda). */
  readonly idlePollMs?: number;
  /** Longest pause between empty polls of an idle queue (sqs-poller.ts). @default DEFAULT_IDLE_POLL_MAX_MS (400 ms) */
  readonly queueIdlePollMaxMs?: number;
  /** First retry delay after a failed stream batch (default 200 ms, doubling to 5 s). */
  readonly retryBaseMs?: number;
  /** Clients per region, instead of creating them. */
  readonly clients?: Readonly<Record<string, RegionClients>>;
  /**
   * Publish metrics into the emulator's CloudWatch as AWS would: the EMF lines functions print,
   * and Lambda and SQS service metrics (see service-metrics.ts). @default true
   */
  readonly publishMetrics?: boolean;
  /** Credentials for one function's environment (default `credentials`): a distinct key per function lets a proxy tell callers apart. */
  readonly functionCredentials?: (fn: DeployedFunction) => Credentials | undefined;
  /** Called after every invocation a mapping makes (bench: durations and batch sizes). */
  readonly onInvoke?: (info: InvocationInfo) => void;
  /** Told as each invocation starts in its execution environment, which it may crash (chaos.ts `crash`). */
  readonly onInvocationStart?: FunctionHostOptions['onInvocationStart'];
  /**
   * How often every scheduled rule fires (schedules.ts). AWS fires a rule at its own rate (the
   * backlog drain's: once a minute); locally a drain after an outage should come within a test.
   * `'rate'`: each rule's own rate. @default DEFAULT_SCHEDULE_EVERY_MS (5 s)
   */
  readonly scheduleEveryMs?: number | 'rate';
}

/** How often the local runtime fires scheduled rules unless told otherwise (AWS: each rule's own rate). */
export const DEFAULT_SCHEDULE_EVERY_MS = 5000;

export interface InvocationInfo {
  readonly region: string;
  readonly functionName: string;
  /** What invoked it: a mapping's source, or a scheduled rule. */
  readonly source: EventSourceMappingInfo['source'] | 'schedule';
  /** Records (stream records or messages) in the event. */
  readonly records: number;
  readonly outcome: InvokeOutcome;
}

export interface LocalRuntime {
  /** Resolves once every mapping's poller has started (iterators obtained, queue URLs resolved). */
  readonly ready: Promise<void>;
  readonly isReady: boolean;
  readonly functions: readonly DeployedFunction[];
  /** Per-mapping counters, a snapshot. */
  stats(): MappingStats[];
  /** The scheduled rules it fires (schedules.ts). */
  readonly schedules: readonly ScheduledTarget[];
  /** Invokes a function directly (RequestResponse), outside any mapping. */
  invoke(region: string, functionName: string, event: unknown): Promise<InvokeOutcome>;
  /** Stops polling, lets invocations in flight finish, ends the workers, writes the checkpoints. */
  stop(): Promise<void>;
}

interface Poller {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Refuses an emulator that would swallow what the runtime must see: a plain `moto_server` runs
 * moto's own event source mapping dispatch, which empties DynamoDB stream shards after each write
 * and receives SQS messages itself (dev/local/moto_bootstrap.py). Nothing would replicate, so no
 * "ready" is ever printed over it.
 */
export async function refuseDispatchingEmulator(endpoint: string): Promise<void> {
  if ((await isDispatchDisabled(endpoint)) !== false) return;
  throw new Error(
    `the emulator at ${endpoint} is a plain moto_server: its own event source mapping dispatch drops DynamoDB stream records ` +
      `and receives SQS messages itself, so nothing would replicate. Start it with \`python3 dev/local/moto_bootstrap.py -p PORT\` ` +
      `(moto_server's arguments), or run \`regionsync up\` without --endpoint: it starts its own.`,
  );
}

export async function startRuntime(options: RuntimeOptions): Promise<LocalRuntime> {
  const stateDir = resolve(options.stateDir ?? '.regionsync');
  const log = options.logger ?? defaultLogger(options.verbose ?? false);

  await refuseDispatchingEmulator(options.endpoint);

  const ownClients: RegionClients[] = [];
  const clientsFor = (region: string): RegionClients => {
    const given = options.clients?.[region];
    if (given) return given;
    let c = ownClients.find((x) => x.region === region);
    if (!c) {
      c = createRegionClients({ endpoint: options.endpoint, region, credentials: options.credentials });
      ownClients.push(c);
    }
    return c;
  };

  const functions: DeployedFunction[] = [];
  try {
    for (const region of options.regions) {
      functions.push(
        ...(await discoverFunctions({
          endpoint: options.endpoint,
          region,
          clients: clientsFor(region),
          stateDir,
          codeOverrides: options.codeOverrides,
          include: options.include,
        })),
      );
    }
  } catch (err) {
    ownClients.forEach(destroyRegionClients);
    throw new Error(`cannot discover the deployed functions at ${options.endpoint}: ${errorMessage(err)}`);
  }

  const metrics = options.publishMetrics === false ? undefined : new LocalMetrics({ endpoint: options.endpoint, credentials: options.credentials, log });
  const hosts = new Map<string, FunctionHost>();
  const hostKey = (region: string, name: string): string => `${region}/${name}`;
  for (const fn of functions) {
    if (!fn.code) continue;
    hosts.set(
      hostKey(fn.region, fn.name),
      new FunctionHost(
        { ...fn, codeDir: fn.code.dir },
        {
          endpoint: options.endpoint,
          credentials: options.functionCredentials?.(fn) ?? options.credentials,
          onLog: metrics ? metrics.tapLog(options.onLog) : options.onLog,
          verbose: options.verbose,
          poolSize: options.poolSize,
          onInvocationStart: options.onInvocationStart,
        },
      ),
    );
  }

  const allStats: MappingStats[] = [];
  const pollers: Poller[] = [];
  for (const fn of functions) {
    for (const mapping of fn.mappings) {
      const stats = newStats({ uuid: mapping.uuid, region: fn.region, functionName: fn.name, eventSourceArn: mapping.eventSourceArn, source: mapping.source });
      allStats.push(stats);
      const host = hosts.get(hostKey(fn.region, fn.name));
      const skip = skipReason(fn, mapping, host);
      if (skip) {
        stats.state = 'skipped';
        stats.lastError = skip;
        log(mapping.enabled ? 'error' : 'info', `[${fn.region}/${fn.name}] mapping ${mapping.uuid} not polled: ${skip}`);
        continue;
      }
      if (mapping.filterCriteria && mapping.source !== 'dynamodb') {
        log(
          'warn',
          `[${fn.region}/${fn.name}] mapping ${mapping.uuid} has FilterCriteria, which the local runtime applies to streams only: every message is delivered`,
        );
      }
      const run = metrics ? metrics.instrument(fn.region, fn.name, mapping, (e) => host!.invoke(e)) : (e: unknown) => host!.invoke(e);
      const invoke = async (event: unknown): Promise<InvokeOutcome> => {
        const outcome = await run(event);
        const records = (event as { Records?: unknown[] }).Records?.length ?? 0;
        options.onInvoke?.({ region: fn.region, functionName: fn.name, source: mapping.source, records, outcome });
        return outcome;
      };
      const sourceRegion = mapping.eventSourceArn.split(':')[3] || fn.region;
      if (mapping.source === 'dynamodb') {
        const checkpoints = await CheckpointStore.open(
          CheckpointStore.fileFor(stateDir, fn.region, fn.name, mapping.eventSourceArn),
          mapping.eventSourceArn,
          fn.name,
        );
        pollers.push(
          new StreamPoller({
            mapping,
            functionName: fn.name,
            client: clientsFor(sourceRegion).streams,
            invoke,
            checkpoints,
            stats,
            log,
            idlePollMs: options.idlePollMs,
            retryBaseMs: options.retryBaseMs,
            functionArn: fn.arn,
            sendOnFailure: (arn, body) => sendToQueueArn(clientsFor, arn, body),
          }),
        );
      } else {
        metrics?.watchQueue(sourceRegion, clientsFor(sourceRegion).sqs, mapping.eventSourceArn);
        pollers.push(
          new SqsPoller({
            mapping,
            functionName: fn.name,
            client: clientsFor(sourceRegion).sqs,
            invoke,
            stats,
            log,
            pollers: options.sqsPollers,
            idlePollMaxMs: options.queueIdlePollMaxMs,
          }),
        );
      }
    }
  }

  // Scheduled rules that invoke a function run here (the backlog drain), not by their own rate unless asked.
  const schedules: ScheduledTarget[] = [];
  for (const region of options.regions) {
    const events = new EventBridgeClient({ endpoint: options.endpoint, region, credentials: options.credentials ?? EMULATOR_CREDENTIALS });
    try {
      schedules.push(...(await discoverSchedules(events, region, functions, log)));
    } catch (err) {
      log('warn', `scheduled rules in ${region} not run: ${errorMessage(err)}`);
    } finally {
      events.destroy();
    }
  }
  let scheduled = 0;
  for (const target of schedules) {
    const host = hosts.get(hostKey(target.region, target.functionName));
    if (!host) continue;
    const every = options.scheduleEveryMs === 'rate' ? target.rateMs : (options.scheduleEveryMs ?? DEFAULT_SCHEDULE_EVERY_MS);
    const invoke = async (event: unknown): Promise<InvokeOutcome> => {
      const outcome = await host.invoke(event);
      options.onInvoke?.({ region: target.region, functionName: target.functionName, source: 'schedule', records: 0, outcome });
      return outcome;
    };
    pollers.push(new SchedulePoller(target, every, invoke, log));
    scheduled++;
  }

  let isReady = false;
  // Each poller's start() never rejects: one failing source does not hold up or stop the others.
  const ready = Promise.all(pollers.map((p) => p.start().catch((err) => log('error', `poller failed to start: ${errorMessage(err)}`)))).then(() => {
    isReady = true;
    log(
      'info',
      `local runtime ready: ${hosts.size} function(s), ${pollers.length - scheduled} mapping poller(s), ${scheduled} schedule(s) in ${options.regions.join(', ')}`,
    );
  });

  let stopping: Promise<void> | undefined;
  return {
    ready,
    get isReady() {
      return isReady;
    },
    functions,
    schedules,
    stats: () => allStats.map((s) => ({ ...s })),
    invoke(region, functionName, event) {
      const host = hosts.get(hostKey(region, functionName));
      if (!host) return Promise.reject(new Error(`no runnable function ${functionName} in ${region}`));
      return host.invoke(event);
    },
    stop() {
      stopping ??= (async () => {
        // Not waiting for `ready`: a poller still retrying its start is stopped like the others.
        await Promise.allSettled(pollers.map((p) => p.stop()));
        await ready.catch(() => undefined);
        await Promise.allSettled([...hosts.values()].map((h) => h.stop()));
        await metrics?.stop();
        ownClients.forEach(destroyRegionClients);
      })();
      return stopping;
    },
  };
}

/** Sends `body` to the SQS queue `arn` names (an on-failure destination); SNS destinations are not emulated. */
async function sendToQueueArn(clientsFor: (region: string) => RegionClients, arn: string, body: string): Promise<void> {
  const [, , service, region, account, name] = arn.split(':');
  if (service !== 'sqs' || !region || !name) throw new Error(`on-failure destination ${arn} is not an SQS queue (the local runtime sends to SQS only)`);
  const sqs = clientsFor(region).sqs;
  const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }))).QueueUrl;
  if (!url) throw new Error(`GetQueueUrl returned no URL for ${arn}`);
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
}

function skipReason(fn: DeployedFunction, mapping: EventSourceMappingInfo, host: FunctionHost | undefined): string | undefined {
  if (!mapping.enabled) return `state is ${mapping.state}`;
  if (mapping.source !== 'dynamodb' && mapping.source !== 'sqs') return `event source ${mapping.eventSourceArn} is not supported locally`;
  if (!host) return fn.codeError ?? 'the function has no code';
  return undefined;
}

function defaultLogger(verbose: boolean): RuntimeLogger {
  return (level: LogLevel, message: string) => {
    if (level === 'error' || level === 'warn') process.stderr.write(`regionsync local ${level}: ${message}\n`);
    else if (verbose) process.stdout.write(`regionsync local: ${message}\n`);
  };
}
