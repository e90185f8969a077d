/**
 * DynamoDB Streams records (as GetRecords returns them) in the shape Lambda hands a function: what
 * the local runtime invokes the shipper with, and what `regionsync redrive --stream-failures` replays.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { toWire } from '../core/codec.ts';

/** A record as Lambda puts it in a DynamoDB stream event. */
export interface LambdaStreamRecord {
  /** The record's ID in the stream. @default none when the stream record has none */
  readonly eventID?: string;
  /** `INSERT`, `MODIFY` or `REMOVE`. @default none when the stream record has none */
  readonly eventName?: string;
  readonly eventVersion: '1.1';
  readonly eventSource: 'aws:dynamodb';
  readonly awsRegion: string;
  readonly dynamodb: Record<string, unknown>;
  readonly eventSourceARN: string;
  /** Who made the change: DynamoDB's TTL service for an expiry. @default none: an application or regionsync write */
  readonly userIdentity?: { readonly type?: string; readonly principalId?: string };
}

/** A stream record in the shape Lambda sends: attribute values as JSON (binary as base64), times in seconds. */
export function toLambdaStreamRecord(record: _Record, region: string, streamArn: string): LambdaStreamRecord {
  const d = record.dynamodb ?? {};
  const dynamodb: Record<string, unknown> = {};
  // Seconds, as Lambda sends it. DynamoDB Streams rounds to the second; moto keeps milliseconds,
  // and so does this (a fraction): plain writes are versioned from this time, so on the emulator
  // the later of two writes wins whenever they are a millisecond apart (on AWS: a second).
  if (d.ApproximateCreationDateTime) dynamodb.ApproximateCreationDateTime = d.ApproximateCreationDateTime.getTime() / 1000;
  if (d.Keys) dynamodb.Keys = toWire(d.Keys as Record<string, AttributeValue>);
  if (d.NewImage) dynamodb.NewImage = toWire(d.NewImage as Record<string, AttributeValue>);
  if (d.OldImage) dynamodb.OldImage = toWire(d.OldImage as Record<string, AttributeValue>);
  if (d.SequenceNumber !== undefined) dynamodb.SequenceNumber = d.SequenceNumber;
  if (d.SizeBytes !== undefined) dynamodb.SizeBytes = d.SizeBytes;
  if (d.StreamViewType !== undefined) dynamodb.StreamViewType = d.StreamViewType;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb,
    eventSourceARN: streamArn,
    ...(record.userIdentity ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } } : {}),
  };
}
