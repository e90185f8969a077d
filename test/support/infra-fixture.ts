/**
 * Shared fixture for the infrastructure tests (test/infra): one regionsync config, synthesized
 * into one CloudFormation template per region, and helpers to read those templates.
 *
 * Synthesis takes about a second: call `synthesizeFixture` once per test file, in `beforeAll`.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack, type AppProps, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp, type BuildAppOptions } from '../../src/infra/app.ts';
import type { RegionSyncConfig } from '../../src/infra/config/schema.ts';
import type { RegionStack } from '../../src/infra/stacks/region-stack.ts';
import type { ReplicatedTable } from '../../src/infra/constructs/replicated-table.ts';
import { ENV, inboundQueueName, type FunctionSettings } from '../../src/core/contract.ts';

export const APP_NAME = 'rsinfra';

/** One account per region, so every cross-region address is a literal the tests can check. */
export const ACCOUNTS: Readonly<Record<string, string>> = {
  'us-east-1': '111111111111',
  'eu-west-1': '222222222222',
  'ap-southeast-1': '333333333333',
};
export const REGIONS = Object.keys(ACCOUNTS);

/** `orders`: sort key, PROVISIONED, 2 of the 3 regions. `profiles`: pay-per-request, all 3, custom TTL attribute. */
export const FIXTURE_CONFIG: RegionSyncConfig = {
  appName: APP_NAME,
  regions: REGIONS.map((region) => ({ region, account: ACCOUNTS[region]! })),
  tables: [
    {
      name: 'orders',
      partitionKey: { name: 'pk', type: 'string' },
      sortKey: { name: 'sk', type: 'number' },
      billingMode: 'PROVISIONED',
      readCapacity: 7,
      writeCapacity: 3,
      regions: ['us-east-1', 'eu-west-1'],
    },
    {
      name: 'profiles',
      partitionKey: { name: 'id', type: 'string' },
      ttlAttribute: 'expiresAt',
    },
  ],
};

/** Where each fixture table lives, written out rather than derived, so a wrong derivation cannot hide. */
export const TABLE_REGIONS: Readonly<Record<string, readonly string[]>> = {
  orders: ['us-east-1', 'eu-west-1'],
  profiles: ['us-east-1', 'eu-west-1', 'ap-southeast-1'],
};

export interface SynthesizedRegion {
  readonly region: string;
  readonly stack: RegionStack;
  readonly template: Template;
}

/** Bundling is cheap (each handler is bundled once and cached: src/infra/constructs/handler-code.ts), so every synth bundles. */
export type SynthesizeOptions = BuildAppOptions;

const CDK_JSON = path.resolve(import.meta.dirname, '../../cdk.json');

/**
 * An App as `cdk synth` builds this project's: with cdk.json's context (the feature flags `cdk init`
 * writes for this CDK version), so the templates tests check are the templates that deploy.
 */
export function testApp(props: AppProps = {}): App {
  const context = (JSON.parse(readFileSync(CDK_JSON, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  return new App({ ...props, context: { ...context, ...props.context } });
}

/** Builds the app for `config` and synthesizes every region stack, keyed by region. */
export function synthesizeFixture(config: RegionSyncConfig = FIXTURE_CONFIG, options: SynthesizeOptions = {}): Map<string, SynthesizedRegion> {
  const app = testApp();
  const stacks = buildApp(app, config, options);
  const out = new Map<string, SynthesizedRegion>();
  for (const stack of stacks) {
    const region = stack.region;
    if (out.has(region)) throw new Error(`two stacks for region ${region}`);
    out.set(region, { region, stack, template: Template.fromStack(stack) });
  }
  return out;
}

export function regionOf(synth: ReadonlyMap<string, SynthesizedRegion>, region: string): SynthesizedRegion {
  const r = synth.get(region);
  if (!r) throw new Error(`no stack synthesized for ${region} (have: ${[...synth.keys()].join(', ')})`);
  return r;
}

export function replicatedTable(r: SynthesizedRegion, table: string): ReplicatedTable {
  const t = r.stack.tables.get(table);
  if (!t) throw new Error(`no ReplicatedTable ${table} in ${r.region}`);
  return t;
}

/** The CloudFormation logical ID of an L2 construct's resource (or of an L1 resource itself). */
export function logicalId(construct: IConstruct): string {
  const cfn = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).getLogicalId(cfn);
}

/** The resources of a template, by logical ID. */
export function resources(template: Template): Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string }> {
  return template.toJSON().Resources ?? {};
}

export function propertiesOf(template: Template, id: string): Record<string, any> {
  const r = resources(template)[id];
  if (!r) throw new Error(`no resource ${id} in template`);
  return r.Properties ?? {};
}

/**
 * Renders a CloudFormation value as one comparable string: `{Ref: X}` becomes `${X}`,
 * `{Fn::GetAtt: [X, Attr]}` becomes `${X.Attr}`, and `Fn::Join` concatenates its parts. So
 * `arn:${AWS::Partition}:sqs:eu-west-1:222222222222:q` or `${ordersTable1234.StreamArn}`.
 */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0]!;
      if (fn === 'Ref' && typeof arg === 'string') return `\${${arg}}`;
      if (fn === 'Fn::GetAtt' && Array.isArray(arg) && arg.length === 2) return `\${${arg[0]}.${arg[1]}}`;
      if (fn === 'Fn::Join' && Array.isArray(arg) && arg.length === 2 && Array.isArray(arg[1])) return (arg[1] as unknown[]).map(flatten).join(String(arg[0]));
    }
  }
  throw new Error(`cannot flatten CloudFormation value ${JSON.stringify(value)}`);
}

/** `${X.Arn}`: how `flatten` renders `Fn::GetAtt [X, Arn]`. */
export function ref(id: string, attribute?: string): string {
  return attribute ? `\${${id}.${attribute}}` : `\${${id}}`;
}

/** The inbound queue of `table` in `region`, as the shipper's policy names it. */
export function inboundQueueArn(table: string, region: string): string {
  return `arn:\${AWS::Partition}:sqs:${region}:${ACCOUNTS[region]}:${inboundQueueName(APP_NAME, table)}`;
}

/** The inbound queue of `table` in `region`, as the shipper's settings address it. */
export function inboundQueueUrl(table: string, region: string): string {
  return `https://sqs.${region}.\${AWS::URLSuffix}/${ACCOUNTS[region]}/${inboundQueueName(APP_NAME, table)}`;
}

/** The function's REGIONSYNC_SETTINGS, parsed; CloudFormation references appear as `${...}` (see `flatten`). */
export function settingsOf(template: Template, functionId: string): FunctionSettings {
  const raw = propertiesOf(template, functionId).Environment?.Variables?.[ENV.settings];
  if (raw === undefined) throw new Error(`${functionId} has no ${ENV.settings}`);
  return JSON.parse(flatten(raw)) as FunctionSettings;
}
