/**
 * SDK clients for one region of the emulator, created once and shared by discovery and the
 * pollers (each client keeps its own connection pool).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EMULATOR_CREDENTIALS } from '../../src/ops/aws.ts';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface RegionClients {
  readonly region: string;
  readonly lambda: LambdaClient;
  readonly cloudformation: CloudFormationClient;
  readonly s3: S3Client;
  readonly streams: DynamoDBStreamsClient;
  readonly sqs: SQSClient;
}

export interface ClientOptions {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials?: Credentials;
}

export function createRegionClients({ endpoint, region, credentials = EMULATOR_CREDENTIALS }: ClientOptions): RegionClients {
  const config = { endpoint, region, credentials };
  return {
    region,
    lambda: new LambdaClient(config),
    cloudformation: new CloudFormationClient(config),
    // Path style: bucket names as host names do not resolve for a local endpoint.
    s3: new S3Client({ ...config, forcePathStyle: true }),
    streams: new DynamoDBStreamsClient(config),
    sqs: new SQSClient(config),
  };
}

export function destroyRegionClients(clients: RegionClients): void {
  clients.lambda.destroy();
  clients.cloudformation.destroy();
  clients.s3.destroy();
  clients.streams.destroy();
  clients.sqs.destroy();
}
