/**
 * Finds what is deployed in one region of the emulator: Lambda functions, their event source
 * mappings, and their code, unzipped into a local cache so a worker can `require` it.
 *
 * Where the code is: moto keeps the zip's bytes only in memory and its GetFunction
 * `Code.Location` (https://awslambda-REGION-tasks.s3.REGION.amazonaws.com/KEY) cannot be
 * fetched, but KEY is the function's `Code.S3Key`. So the zip is read back from the S3
 * bucket it was deployed from: first the CDK assets bucket, then every other bucket, taking
 * the object whose SHA-256 is the function's CodeSha256. If that fails, the CloudFormation
 * template that created the function gives Code.S3Bucket/S3Key exactly. Functions created
 * with an inline ZipFile have no retrievable code in moto: use `codeOverrides`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { unzipSync } from 'fflate';
import {
  GetFunctionCommand,
  ListEventSourceMappingsCommand,
  ListFunctionsCommand,
  type EventSourceMappingConfiguration,
  type FunctionConfiguration,
} from '@aws-sdk/client-lambda';
import { GetObjectCommand, HeadObjectCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { GetTemplateCommand, ListStackResourcesCommand, ListStacksCommand, type StackStatus } from '@aws-sdk/client-cloudformation';
import { createRegionClients, destroyRegionClients, type Credentials, type RegionClients } from './clients.ts';
import { errorMessage } from '../../src/core/errors.ts';

export type EventSourceKind = 'dynamodb' | 'sqs' | 'kinesis' | 'unknown';

export interface EventSourceMappingInfo {
  readonly uuid: string;
  readonly region: string;
  readonly functionArn: string;
  readonly eventSourceArn: string;
  readonly source: EventSourceKind;
  /** Enabled, or on its way to it (State Enabled/Enabling/Creating/Updating). */
  readonly enabled: boolean;
  readonly state: string;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly startingPosition?: string;
  readonly startingPositionTimestamp?: Date;
  readonly functionResponseTypes: readonly string[];
  readonly reportBatchItemFailures: boolean;
  readonly bisectBatchOnFunctionError: boolean;
  /** -1: retry until the record expires (the AWS default for streams). */
  readonly maximumRetryAttempts: number;
  /** -1: records never expire. */
  readonly maximumRecordAgeSeconds: number;
  readonly parallelizationFactor: number;
  /** ScalingConfig.MaximumConcurrency (SQS). */
  readonly maximumConcurrency?: number;
  /** Present when the mapping filters events (applied by the stream poller; not by the SQS poller). */
  readonly filterCriteria?: unknown;
  /**
   * DestinationConfig.OnFailure.Destination (an SQS queue or SNS topic ARN): where a stream mapping
   * sends the record of a batch it discarded. moto keeps it as created (CloudFormation resolves the ARN).
   */
  readonly onFailureDestination?: string;
}

export interface FunctionCode {
  /** Directory holding the unzipped bundle (LAMBDA_TASK_ROOT). */
  readonly dir: string;
  readonly source: 'override' | 'cache' | 's3' | 'cloudformation';
  readonly bucket?: string;
  readonly key?: string;
}

export interface DeployedFunction {
  readonly region: string;
  readonly accountId: string;
  readonly name: string;
  readonly arn: string;
  readonly handler: string;
  readonly runtime?: string;
  readonly packageType: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly environment: Readonly<Record<string, string>>;
  readonly codeSha256?: string;
  /** Undefined when the code could not be found; `codeError` says why. */
  readonly code?: FunctionCode;
  readonly codeError?: string;
  readonly mappings: readonly EventSourceMappingInfo[];
}

/** What is known of a function before its code is fetched. */
export type FunctionInfo = Omit<DeployedFunction, 'code' | 'codeError'>;

export interface DiscoverOptions {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials?: Credentials;
  /** Clients to use instead of creating new ones. */
  readonly clients?: RegionClients;
  /** Root of local state; code goes to `<stateDir>/functions/<region>/<name>/<sha>/`. Default `.regionsync`. */
  readonly stateDir?: string;
  /** Function name → directory with its code, instead of fetching it from the emulator. */
  readonly codeOverrides?: Readonly<Record<string, string>>;
  /** Only list functions and mappings; do not fetch code. */
  readonly skipCode?: boolean;
  /** Only the functions this accepts (before their code is fetched), e.g. one app's or one table's. @default every function */
  readonly include?: (fn: FunctionInfo) => boolean;
  /** CDK bootstrap qualifier of the assets bucket (default hnb659fds). */
  readonly cdkQualifier?: string;
}

export async function discoverFunctions(options: DiscoverOptions): Promise<DeployedFunction[]> {
  const { region } = options;
  const clients = options.clients ?? createRegionClients(options);
  const stateDir = resolve(options.stateDir ?? '.regionsync');
  try {
    const [configs, mappings] = await Promise.all([listFunctions(clients), listMappings(clients)]);
    const locator = new CodeLocator(clients, options.cdkQualifier ?? 'hnb659fds');
    const out: DeployedFunction[] = [];
    for (const config of configs) {
      const arn = config.FunctionArn ?? '';
      const name = config.FunctionName ?? '';
      const base: FunctionInfo = {
        region,
        accountId: arn.split(':')[4] ?? '',
        name,
        arn,
        handler: config.Handler ?? 'index.handler',
        runtime: config.Runtime,
        packageType: config.PackageType ?? 'Zip',
        timeoutSeconds: config.Timeout ?? 3,
        memoryMb: config.MemorySize ?? 128,
        environment: { ...(config.Environment?.Variables ?? {}) },
        codeSha256: config.CodeSha256 || undefined,
        mappings: mappings.filter((m) => unqualified(m.functionArn) === arn),
      };
      if (options.include && !options.include(base)) continue;
      if (options.skipCode) {
        out.push(base);
        continue;
      }
      try {
        out.push({ ...base, code: await resolveCode(base, locator, stateDir, options.codeOverrides?.[name]) });
      } catch (err) {
        out.push({ ...base, codeError: `function ${name} (${region}): ${errorMessage(err)}` });
      }
    }
    return out;
  } finally {
    if (!options.clients) destroyRegionClients(clients);
  }
}

async function listFunctions(clients: RegionClients): Promise<FunctionConfiguration[]> {
  const out: FunctionConfiguration[] = [];
  let Marker: string | undefined;
  do {
    const page = await clients.lambda.send(new ListFunctionsCommand({ Marker }));
    out.push(...(page.Functions ?? []));
    Marker = page.NextMarker;
  } while (Marker);
  return out;
}

async function listMappings(clients: RegionClients): Promise<EventSourceMappingInfo[]> {
  const out: EventSourceMappingInfo[] = [];
  let Marker: string | undefined;
  do {
    const page = await clients.lambda.send(new ListEventSourceMappingsCommand({ Marker }));
    out.push(...(page.EventSourceMappings ?? []).map((m) => toMappingInfo(m, clients.region)));
    Marker = page.NextMarker;
  } while (Marker);
  return out;
}

export function toMappingInfo(m: EventSourceMappingConfiguration, region: string): EventSourceMappingInfo {
  const eventSourceArn = m.EventSourceArn ?? '';
  const service = eventSourceArn.split(':')[2];
  const source: EventSourceKind = service === 'dynamodb' || service === 'sqs' || service === 'kinesis' ? service : 'unknown';
  const state = m.State ?? 'Enabled';
  const types = m.FunctionResponseTypes ?? [];
  return {
    uuid: m.UUID ?? '',
    region,
    functionArn: m.FunctionArn ?? '',
    eventSourceArn,
    source,
    enabled: ['Enabled', 'Enabling', 'Creating', 'Updating'].includes(state),
    state,
    batchSize: m.BatchSize ?? (source === 'sqs' ? 10 : 100),
    maximumBatchingWindowSeconds: m.MaximumBatchingWindowInSeconds ?? 0,
    startingPosition: m.StartingPosition,
    startingPositionTimestamp: m.StartingPositionTimestamp,
    functionResponseTypes: types,
    reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
    bisectBatchOnFunctionError: m.BisectBatchOnFunctionError ?? false,
    maximumRetryAttempts: m.MaximumRetryAttempts ?? -1,
    maximumRecordAgeSeconds: m.MaximumRecordAgeInSeconds ?? -1,
    parallelizationFactor: m.ParallelizationFactor ?? 1,
    maximumConcurrency: m.ScalingConfig?.MaximumConcurrency,
    filterCriteria: m.FilterCriteria?.Filters?.length ? m.FilterCriteria : undefined,
    ...(m.DestinationConfig?.OnFailure?.Destination ? { onFailureDestination: m.DestinationConfig.OnFailure.Destination } : {}),
  };
}

/** `arn:...:function:name:qualifier` → `arn:...:function:name`. */
function unqualified(functionArn: string): string {
  return functionArn.split(':').slice(0, 7).join(':');
}

async function resolveCode(
  fn: Omit<DeployedFunction, 'code' | 'codeError'>,
  locator: CodeLocator,
  stateDir: string,
  override: string | undefined,
): Promise<FunctionCode> {
  if (override) return { dir: resolve(override), source: 'override' };
  if (fn.packageType !== 'Zip') throw new Error(`package type ${fn.packageType} is not supported locally (only Zip)`);
  // CodeSha256 is base64 (may contain '/'): name the cache directory by its hex form.
  const shaHex = fn.codeSha256 ? Buffer.from(fn.codeSha256, 'base64').toString('hex') : undefined;
  if (shaHex) {
    const dir = join(stateDir, 'functions', fn.region, fn.name, shaHex);
    if (existsSync(dir)) {
      await ensureCommonJsScope(join(stateDir, 'functions'));
      return { dir, source: 'cache' };
    }
  }
  const found = await locator.find(fn);
  await ensureCommonJsScope(join(stateDir, 'functions'));
  const dir = join(stateDir, 'functions', fn.region, fn.name, shaHex ?? sha256Hex(found.bytes));
  if (!existsSync(dir)) await extractZip(found.bytes, dir);
  return { dir, source: found.source, bucket: found.bucket, key: found.key };
}

interface FoundZip {
  readonly bytes: Uint8Array;
  readonly source: 's3' | 'cloudformation';
  readonly bucket: string;
  readonly key: string;
}

/** Finds a function's deployment zip in the emulator's S3; caches the per-region look-ups. */
class CodeLocator {
  private buckets?: Promise<string[]>;
  private stackFunctions?: Promise<Map<string, { stack: string; logicalId: string }>>;
  private readonly templates = new Map<string, Promise<Record<string, unknown> | undefined>>();

  constructor(
    private readonly clients: RegionClients,
    private readonly cdkQualifier: string,
  ) {}

  async find(fn: Omit<DeployedFunction, 'code' | 'codeError'>): Promise<FoundZip> {
    const key = await this.keyFromGetFunction(fn.name);
    const tried: string[] = [];
    if (key) {
      const cdkBucket = `cdk-${this.cdkQualifier}-assets-${fn.accountId}-${fn.region}`;
      const candidates = [cdkBucket, ...(await this.listBuckets()).filter((b) => b !== cdkBucket)];
      for (const bucket of candidates) {
        const bytes = await this.tryGet(bucket, key, fn);
        if (bytes) return { bytes, source: 's3', bucket, key };
      }
      tried.push(`s3 key ${key} (from GetFunction) in ${candidates.length} bucket(s)`);
    }
    const fromTemplate = await this.fromCloudFormation(fn);
    if (fromTemplate) {
      const bytes = await this.tryGet(fromTemplate.bucket, fromTemplate.key, fn, true);
      if (bytes) return { bytes, source: 'cloudformation', ...fromTemplate };
      tried.push(`s3://${fromTemplate.bucket}/${fromTemplate.key} (from its CloudFormation template)`);
    } else {
      tried.push('no CloudFormation stack holds it');
    }
    throw new Error(
      `cannot find the deployment package (tried ${tried.join('; ')}). A function created with an inline ZipFile ` +
        `keeps no retrievable copy in moto: create it from S3 or pass codeOverrides.`,
    );
  }

  private async keyFromGetFunction(name: string): Promise<string | undefined> {
    const res = await this.clients.lambda.send(new GetFunctionCommand({ FunctionName: name }));
    const location = res.Code?.Location;
    if (!location || !/^https?:/.test(location)) return undefined;
    const key = decodeURIComponent(new URL(location).pathname.replace(/^\//, ''));
    return key || undefined;
  }

  private listBuckets(): Promise<string[]> {
    this.buckets ??= this.clients.s3
      .send(new ListBucketsCommand({}))
      .then((r) => (r.Buckets ?? []).map((b) => b.Name ?? '').filter(Boolean))
      .catch(() => []);
    return this.buckets;
  }

  /** The object's bytes if it exists and is the function's package (same SHA-256), else undefined. */
  private async tryGet(bucket: string, key: string, fn: Omit<DeployedFunction, 'code' | 'codeError'>, acceptMismatch = false): Promise<Uint8Array | undefined> {
    try {
      await this.clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch {
      return undefined;
    }
    const res = await this.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await res.Body?.transformToByteArray();
    if (!bytes) return undefined;
    if (!fn.codeSha256 || sha256Base64(bytes) === fn.codeSha256) return bytes;
    if (acceptMismatch) {
      process.emitWarning(`function ${fn.name} (${fn.region}): s3://${bucket}/${key} does not match the function's CodeSha256; using it anyway`);
      return bytes;
    }
    return undefined;
  }

  private async fromCloudFormation(fn: Omit<DeployedFunction, 'code' | 'codeError'>): Promise<{ bucket: string; key: string } | undefined> {
    const owner = (await this.functionsInStacks()).get(fn.name);
    if (!owner) return undefined;
    const template = await this.template(owner.stack);
    const resources = template?.Resources as Record<string, { Properties?: { Code?: Record<string, unknown> } }> | undefined;
    const code = resources?.[owner.logicalId]?.Properties?.Code;
    if (!code) return undefined;
    const ctx = { accountId: fn.accountId, region: fn.region, stackName: owner.stack, resources: resources ?? {} };
    const bucket = resolveIntrinsic(code.S3Bucket, ctx);
    const key = resolveIntrinsic(code.S3Key, ctx);
    return bucket && key ? { bucket, key } : undefined;
  }

  private functionsInStacks(): Promise<Map<string, { stack: string; logicalId: string }>> {
    this.stackFunctions ??= (async () => {
      const map = new Map<string, { stack: string; logicalId: string }>();
      const live: StackStatus[] = [
        'CREATE_COMPLETE',
        'UPDATE_COMPLETE',
        'UPDATE_ROLLBACK_COMPLETE',
        'ROLLBACK_COMPLETE',
        'IMPORT_COMPLETE',
        'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
        'CREATE_IN_PROGRESS',
        'UPDATE_IN_PROGRESS',
      ];
      let NextToken: string | undefined;
      const stacks: string[] = [];
      do {
        const page = await this.clients.cloudformation.send(new ListStacksCommand({ NextToken, StackStatusFilter: live }));
        stacks.push(...(page.StackSummaries ?? []).map((s) => s.StackName ?? '').filter(Boolean));
        NextToken = page.NextToken;
      } while (NextToken);
      for (const stack of stacks) {
        let token: string | undefined;
        do {
          const page = await this.clients.cloudformation.send(new ListStackResourcesCommand({ StackName: stack, NextToken: token }));
          for (const r of page.StackResourceSummaries ?? []) {
            if (r.ResourceType === 'AWS::Lambda::Function' && r.PhysicalResourceId && r.LogicalResourceId) {
              map.set(r.PhysicalResourceId, { stack, logicalId: r.LogicalResourceId });
            }
          }
          token = page.NextToken;
        } while (token);
      }
      return map;
    })().catch(() => new Map());
    return this.stackFunctions;
  }

  private template(stack: string): Promise<Record<string, unknown> | undefined> {
    let t = this.templates.get(stack);
    if (!t) {
      t = this.clients.cloudformation
        .send(new GetTemplateCommand({ StackName: stack }))
        .then((r) => JSON.parse(r.TemplateBody ?? '') as Record<string, unknown>)
        .catch(() => undefined); // YAML templates are not supported here; CDK writes JSON
      this.templates.set(stack, t);
    }
    return t;
  }
}

interface IntrinsicContext {
  readonly accountId: string;
  readonly region: string;
  readonly stackName: string;
  readonly resources: Record<string, unknown>;
}

/** Resolves the few intrinsics a CDK asset location uses: Fn::Sub, Fn::Join, Ref of pseudo parameters. */
export function resolveIntrinsic(value: unknown, ctx: IntrinsicContext): string | undefined {
  if (typeof value === 'string') return value;
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if ('Ref' in v) return pseudo(String(v.Ref), ctx);
  if ('Fn::Sub' in v) {
    const sub = v['Fn::Sub'];
    const [text, vars] = Array.isArray(sub) ? [sub[0], (sub[1] ?? {}) as Record<string, unknown>] : [sub, {}];
    if (typeof text !== 'string') return undefined;
    let failed = false;
    const out = text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      const r = name in vars ? resolveIntrinsic(vars[name], ctx) : pseudo(name, ctx);
      if (r === undefined) failed = true;
      return r ?? '';
    });
    return failed ? undefined : out;
  }
  if ('Fn::Join' in v) {
    const [sepr, parts] = v['Fn::Join'] as [string, unknown[]];
    const resolved = (parts ?? []).map((p) => resolveIntrinsic(p, ctx));
    return resolved.some((p) => p === undefined) ? undefined : resolved.join(sepr);
  }
  return undefined;
}

function pseudo(name: string, ctx: IntrinsicContext): string | undefined {
  switch (name) {
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::Partition':
      return ctx.region.startsWith('cn-') ? 'aws-cn' : ctx.region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
    case 'AWS::URLSuffix':
      return ctx.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    case 'AWS::StackName':
      return ctx.stackName;
    default:
      return undefined;
  }
}

/**
 * In Lambda /var/task has no package.json above it, so a bundle's `.js` files are CommonJS.
 * The cache lives inside the project, whose package.json says "type": "module": this
 * package.json at the cache root restores the Lambda default for everything below it.
 */
async function ensureCommonJsScope(root: string): Promise<void> {
  const file = join(root, 'package.json');
  if (existsSync(file)) return;
  await mkdir(root, { recursive: true });
  await writeFile(file, '{ "type": "commonjs" }\n');
}

/** Unzips into `dir` atomically: into a sibling temp directory, then renamed into place. */
export async function extractZip(zip: Uint8Array, dir: string): Promise<void> {
  const files = unzipSync(zip);
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  try {
    for (const [name, content] of Object.entries(files)) {
      const target = resolve(tmp, name);
      // Zip slip: never write outside the target directory.
      if (target !== tmp && !target.startsWith(tmp + sep)) throw new Error(`zip entry escapes the target directory: ${name}`);
      if (name.endsWith('/')) {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    await mkdir(dirname(dir), { recursive: true });
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another runtime extracted the same package first: theirs is as good as ours.
      if (!existsSync(dir)) throw err;
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

function sha256Base64(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
