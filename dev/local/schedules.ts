/**
 * Scheduled rules: an EventBridge rule with a `rate(...)` schedule whose target is a deployed
 * function (the shipper's backlog drain, src/infra/constructs/replicated-table.ts). moto keeps the
 * rules the stacks create but never fires them; the local runtime invokes the target with the
 * rule's input, as EventBridge would.
 */
import { type EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { sleep } from '../../src/core/concurrency.ts';
import { errorMessage } from '../../src/core/errors.ts';
import type { DeployedFunction } from './discovery.ts';
import type { InvokeOutcome } from './function-host.ts';
import type { RuntimeLogger } from './poller-common.ts';

/** A rule's schedule and the function it invokes. */
export interface ScheduledTarget {
  readonly region: string;
  readonly ruleName: string;
  readonly functionName: string;
  /** The schedule's own period, ms (`rate(1 minute)`: 60,000). */
  readonly rateMs: number;
  /** The event the function is invoked with: the target's Input, or EventBridge's scheduled event. */
  readonly event: unknown;
}

const UNIT_MS: Readonly<Record<string, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** `rate(5 minutes)` → 300,000; undefined for a cron expression or anything else. */
export function rateMs(expression: string | undefined): number | undefined {
  const m = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression ?? '');
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/** The enabled rate schedules in `region` whose targets are among `functions` (matched by ARN). */
export async function discoverSchedules(
  client: EventBridgeClient,
  region: string,
  functions: readonly DeployedFunction[],
  log: RuntimeLogger,
): Promise<ScheduledTarget[]> {
  const byArn = new Map(functions.filter((f) => f.region === region).map((f) => [f.arn, f]));
  if (byArn.size === 0) return [];
  const found: ScheduledTarget[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListRulesCommand({ NextToken: token }));
    for (const rule of page.Rules ?? []) {
      if (!rule.ScheduleExpression || rule.State !== 'ENABLED') continue;
      const targets = (await client.send(new ListTargetsByRuleCommand({ Rule: rule.Name }))).Targets ?? [];
      for (const t of targets) {
        const fn = t.Arn ? byArn.get(t.Arn) : undefined;
        if (!fn) continue;
        const every = rateMs(rule.ScheduleExpression);
        if (every === undefined) {
          log('warn', `[${region}/${fn.name}] rule ${rule.Name} (${rule.ScheduleExpression}) not run: the local runtime runs rate() schedules only`);
          continue;
        }
        const event = t.Input ? JSON.parse(t.Input) : { source: 'aws.events', 'detail-type': 'Scheduled Event', region, resources: [rule.Arn], detail: {} };
        found.push({ region, ruleName: rule.Name!, functionName: fn.name, rateMs: every, event });
      }
    }
    token = page.NextToken;
  } while (token);
  return found;
}

/** Fires one schedule every `everyMs` until stopped; an invocation still running delays the next. */
export class SchedulePoller {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly target: ScheduledTarget,
    private readonly everyMs: number,
    private readonly invoke: (event: unknown) => Promise<InvokeOutcome>,
    private readonly log: RuntimeLogger,
  ) {}

  async start(): Promise<void> {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { region, functionName, ruleName } = this.target;
    while (!this.stopping.signal.aborted) {
      await sleep(this.everyMs, this.stopping.signal).catch(() => undefined);
      if (this.stopping.signal.aborted) break;
      try {
        const outcome = await this.invoke(this.target.event);
        if (!outcome.ok) this.log('warn', `[${region}/${functionName}] scheduled invocation (${ruleName}) failed: ${JSON.stringify(outcome.error)}`);
      } catch (err) {
        this.log('warn', `[${region}/${functionName}] scheduled invocation (${ruleName}) failed: ${errorMessage(err)}`);
      }
    }
  }
}
