/**
 * AWS clients for the CLI, all endpoint-driven: the same code talks to moto, LocalStack or AWS.
 * With an endpoint and no credentials in the environment, emulator credentials are used.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

export interface Target {
  /** Emulator endpoint (`http://localhost:4566`); undefined for real AWS. */
  readonly endpoint?: string;
}

export const EMULATOR_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export function clientConfig(target: Target, region: string) {
  return {
    region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.endpoint && !process.env.AWS_ACCESS_KEY_ID ? { credentials: EMULATOR_CREDENTIALS } : {}),
    // Emulators answer at once; fail fast instead of retrying for minutes against a dead port.
    maxAttempts: 3,
  };
}

export const dynamodb = (t: Target, region: string) => new DynamoDBClient(clientConfig(t, region));
export const sqs = (t: Target, region: string) => new SQSClient(clientConfig(t, region));
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
