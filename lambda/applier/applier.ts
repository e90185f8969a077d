/**
 * The applier: applies the changes other regions shipped, each with one conditional PutItem on
 * the version attribute (see core/writes.ts). A stale or duplicate change is a counted skip;
 * a message that can never apply goes to the dead-letter queue with the reason; a transient
 * failure fails only its own message (partial batch response), never the batch.
 */
import { ConditionalCheckFailedException, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { decodeMessage, encodeMessage, keyToString, validateChange, type Change } from '../core/change.ts';
import { mapWithConcurrency } from '../core/concurrency.ts';
import { METRICS, type FunctionSettings } from '../core/contract.ts';
import { InvalidMessageError } from '../core/errors.ts';
import { applyInput } from '../core/writes.ts';

const CHANGE_CONCURRENCY = 16;

export interface ApplierDeps {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
}

export type ApplyResult = 'applied' | 'stale' | 'dead-lettered';

export class Applier {
  private readonly now: () => number;

  constructor(
    private readonly settings: FunctionSettings,
    private readonly deps: ApplierDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  async handle(event: SQSEvent): Promise<SQSBatchResponse> {
    const lagBySource = new Map<string, number[]>();
    const failed: string[] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        try {
          await this.handleMessage(record, lagBySource);
        } catch (error) {
          this.deps.logger.error('message failed; it will be retried', { messageId: record.messageId, error: error as Error });
          failed.push(record.messageId);
        }
      }),
    );
    this.emitLag(lagBySource);
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  }

  private async handleMessage(record: SQSRecord, lagBySource: Map<string, number[]>): Promise<void> {
    let changes: readonly Change[];
    try {
      changes = decodeMessage(record.body).changes;
    } catch (e) {
      if (e instanceof InvalidMessageError) return this.deadLetter(record.body, e.message, record.messageId);
      throw e;
    }
    const results = await mapWithConcurrency(changes, CHANGE_CONCURRENCY, async (change, i): Promise<ApplyResult | Error> => {
      const reason = validateChange(change, { table: this.settings.logicalTable, key: this.settings.key, sourceRegions: this.settings.sourceRegions });
      if (reason) {
        await this.deadLetter(encodeMessage([change]), `change ${i}: ${reason}`, record.messageId);
        return 'dead-lettered';
      }
      try {
        const result = await this.apply(change);
        if (result === 'applied') {
          const lags = lagBySource.get(change.origin) ?? [];
          lags.push(Math.max(0, this.now() - change.writtenAt));
          lagBySource.set(change.origin, lags);
        }
        return result;
      } catch (e) {
        this.deps.logger.warn('change failed to apply', { key: keyToString(change.key), version: change.version, error: e as Error });
        return e as Error;
      }
    });
    const count = (r: ApplyResult) => results.filter((x) => x === r).length;
    this.deps.metrics.addMetric(METRICS.names.changesApplied, MetricUnit.Count, count('applied'));
    this.deps.metrics.addMetric(METRICS.names.changesStale, MetricUnit.Count, count('stale'));
    const errors = results.filter((r): r is Error => r instanceof Error);
    // The whole message comes back; the changes that did apply are then duplicates and skip.
    if (errors.length > 0) throw errors[0];
  }

  /** One conditional write; a failed condition means a newer or equal version is already here. */
  async apply(change: Change): Promise<ApplyResult> {
    try {
      await this.deps.dynamodb.send(new PutItemCommand(applyInput({ tableName: this.settings.tableName, change, ttlAttribute: this.settings.ttlAttribute })));
      return 'applied';
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return 'stale';
      throw e;
    }
  }

  /** Parks what can never apply, with the reason, so it neither blocks the queue nor is lost. */
  private async deadLetter(body: string, reason: string, messageId: string): Promise<void> {
    const url = this.settings.deadLetterQueueUrl;
    this.deps.logger.error('invalid change message sent to the dead-letter queue', { messageId, reason });
    if (!url) throw new InvalidMessageError(`no dead-letter queue configured; cannot park message ${messageId}: ${reason}`);
    await this.deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: body,
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: reason.slice(0, 1024) },
          sourceMessageId: { DataType: 'String', StringValue: messageId },
          table: { DataType: 'String', StringValue: this.settings.logicalTable },
        },
      }),
    );
    this.deps.metrics.addMetric(METRICS.names.changesDeadLettered, MetricUnit.Count, 1);
  }

  private emitLag(lagBySource: Map<string, number[]>): void {
    for (const [source, lags] of lagBySource) {
      const metric = this.deps.metrics.singleMetric();
      metric.addDimensions({ [METRICS.dimensions.table]: this.settings.logicalTable, [METRICS.dimensions.sourceRegion]: source, [METRICS.dimensions.targetRegion]: this.settings.region });
      for (const lag of lags) metric.addMetric(METRICS.names.replicationLag, MetricUnit.Milliseconds, lag);
      metric.publishStoredMetrics();
    }
  }
}
