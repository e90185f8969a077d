/**
 * The one SDK client factory outside Lambda (the functions build theirs in create-handler.ts): the
 * CLI, the operations library, the local environment's tools and the tests get every client here,
 * all endpoint-driven (the same code talks to moto, LocalStack or AWS), with the region's
 * credentials from the config and few retries. With an endpoint and no credentials in the
 * environment, emulator credentials are used.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromIni, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { RegionCredentials, ResolvedConfig } from '../infra/config/schema.ts';

/** Where the SDK clients connect: an emulator endpoint or AWS, and how each region's account is reached. */
export interface Target {
  /**
   * Emulator endpoint (`http://localhost:4566`); undefined for real AWS.
   * @default none: each service's AWS endpoint in the region
   */
  readonly endpoint?: string;
  /**
   * Per region, how to reach its account (the config's `regions[].credentials`).
   * @default the default credential chain in every region
   */
  readonly regionCredentials?: Readonly<Record<string, RegionCredentials>>;
}

/** Dummy credentials for emulators, which accept any: used with an endpoint when the environment has no AWS_ACCESS_KEY_ID. */
export const EMULATOR_CREDENTIALS: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string } = {
  accessKeyId: 'test',
  secretAccessKey: 'test',
};

/** The CLI's target for a config: the endpoint, and each region's credentials as the config names them. */
export function targetOf(config: Pick<ResolvedConfig, 'regions'>, endpoint?: string): Target {
  const regionCredentials = Object.fromEntries(config.regions.filter((r) => r.credentials).map((r) => [r.region, r.credentials!]));
  return { ...(endpoint ? { endpoint } : {}), ...(Object.keys(regionCredentials).length > 0 ? { regionCredentials } : {}) };
}

/** One credentials provider per region and setting, so every client of a region shares one assumed-role session. */
const providers = new Map<string, AwsCredentialIdentityProvider>();

function credentialsFor(target: Target, region: string, c: RegionCredentials): AwsCredentialIdentityProvider {
  const key = `${target.endpoint ?? ''}\0${region}\0${c.profile ?? ''}\0${c.roleArn ?? ''}`;
  let provider = providers.get(key);
  if (!provider) {
    // Assuming a role on an emulator needs some credentials to call STS with.
    const base = c.profile ? fromIni({ profile: c.profile }) : target.endpoint && !process.env.AWS_ACCESS_KEY_ID ? async () => EMULATOR_CREDENTIALS : undefined;
    const assumed = c.roleArn
      ? fromTemporaryCredentials({
          params: { RoleArn: c.roleArn, RoleSessionName: 'regionsync-cli' },
          clientConfig: { region, ...(target.endpoint ? { endpoint: target.endpoint } : {}) },
          ...(base ? { masterCredentials: base } : {}),
        })
      : base;
    if (!assumed) throw new Error(`regions: ${region}: credentials name neither a profile nor a roleArn`);
    provider = assumed;
    providers.set(key, provider);
  }
  return provider;
}

/**
 * SDK client settings for `region` of the target: its endpoint, the region's credentials (its profile or
 * role; emulator credentials with an endpoint and none in the environment; else the default chain), 3 attempts at most.
 */
export function clientConfig(target: Target, region: string) {
  const own = target.regionCredentials?.[region];
  return {
    region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(own && (own.profile || own.roleArn)
      ? { credentials: credentialsFor(target, region, own) }
      : target.endpoint && !process.env.AWS_ACCESS_KEY_ID
        ? { credentials: EMULATOR_CREDENTIALS }
        : {}),
    // Emulators answer at once; fail fast instead of retrying for minutes against a dead port.
    maxAttempts: 3,
  };
}

/** A DynamoDB client for `region` of the target (see {@link clientConfig}). */
export const dynamodb = (t: Target, region: string) => new DynamoDBClient(clientConfig(t, region));
/** Queue URLs name their own host; with an endpoint (an emulator, or the bench's counting proxy) every call goes to it. */
export const sqs = (t: Target, region: string) => new SQSClient({ ...clientConfig(t, region), useQueueUrlAsEndpoint: false });
/** A CloudWatch client for `region` of the target (see {@link clientConfig}). */
export const cloudwatch = (t: Target, region: string) => new CloudWatchClient(clientConfig(t, region));
/** A CloudFormation client for `region` of the target (see {@link clientConfig}). */
export const cloudformation = (t: Target, region: string) => new CloudFormationClient(clientConfig(t, region));

/** The account the endpoint (or the credentials) belong to: moto 123456789012, LocalStack 000000000000. */
export async function accountOf(t: Target, region: string): Promise<string> {
  const out = await new STSClient(clientConfig(t, region)).send(new GetCallerIdentityCommand({}));
  if (!out.Account) throw new Error(`STS at ${t.endpoint ?? 'AWS'} returned no account`);
  return out.Account;
}

/** Environment for child processes (the CDK CLI) that must reach the same endpoint. */
export function childEnv(t: Target, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
  if (t.endpoint) {
    env.AWS_ENDPOINT_URL = t.endpoint;
    env.AWS_ACCESS_KEY_ID ??= EMULATOR_CREDENTIALS.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY ??= EMULATOR_CREDENTIALS.secretAccessKey;
  }
  return env;
}
