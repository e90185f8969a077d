/**
 * Counts AWS calls passing through the aws-proxy (dev/local/aws-proxy.ts), per caller, region,
 * service and operation, with what each costs: DynamoDB write units from the item sizes in the
 * request and response, SQS requests as billed (every 64 KB chunk of payload is one request),
 * and bytes each way (inter-region transfer). A proxy hook: no change to handler code.
 */
import type { ProxyHooks, ProxyRequest, ProxyResponse } from '../local/aws-proxy.ts';
import { itemSize, writeUnits } from './item-size.ts';

/** SQS bills each 64 KB chunk of a request's payload as one request. */
export const SQS_CHUNK_BYTES = 64 * 1024;

export interface CallCount {
  /** Who called: `shipper`, `applier` (the functions), `lambda-service` (the runtime's pollers, Lambda's in AWS), or the raw key id. */
  readonly caller: string;
  /** Region the caller runs in (functions), when known. */
  readonly callerRegion?: string;
  /** Region the call was signed for (where it went). */
  readonly region: string;
  readonly service: string;
  /** Operation; `ReceiveMessage(empty)` for receives that returned nothing. */
  readonly operation: string;
  calls: number;
  /** HTTP status >= 400 (a failed conditional write included). */
  errors: number;
  conditionalFailures: number;
  requestBytes: number;
  responseBytes: number;
  /** SQS: requests as billed (64 KB chunks, at least one per call). */
  sqsBilledRequests: number;
  /** SQS: messages sent or received. */
  messages: number;
  /** DynamoDB: write units the call consumed (larger of the item before and after; a failed condition bills the existing item). */
  writeUnits: number;
  /** DynamoDB: read units the call consumed (4 KB each, strongly consistent; half for eventually consistent). */
  readUnits: number;
  /** DynamoDB: records returned by GetRecords. */
  records: number;
  /** Sum of the emulator's answer times, ms (mean = latencyMs / calls). */
  latencyMs: number;
}

const DYNAMODB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const DYNAMODB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);

export function isDynamoWrite(c: Pick<CallCount, 'service' | 'operation'>): boolean {
  return c.service === 'dynamodb' && DYNAMODB_WRITES.has(c.operation);
}
export function isDynamoRead(c: Pick<CallCount, 'service' | 'operation'>): boolean {
  return c.service === 'dynamodb' && DYNAMODB_READS.has(c.operation);
}

/** The access key id of the bench's application writes. */
export const APP_KEY = 'app';

/** Access key ids the bench gives each function: `fn.<role>.<region>`. */
export function functionKeyId(role: string, region: string): string {
  return `fn.${role}.${region}`;
}
export const LAMBDA_SERVICE_KEY = 'lambda-service';

export class RequestStats implements ProxyHooks {
  private readonly counts = new Map<string, CallCount>();

  onResponse(req: ProxyRequest, res: ProxyResponse, elapsedMs: number): undefined {
    const { caller, callerRegion } = parseCaller(req.accessKeyId);
    const region = req.region ?? 'unknown';
    let operation = req.operation;
    const reqJson = parseJson(req.body);
    const resJson = parseJson(res.body);
    let sqsBilled = 0;
    let messages = 0;
    let units = 0;
    let reads = 0;
    let records = 0;
    const failedCondition = res.status >= 400 && String(resJson?.__type ?? '').endsWith('ConditionalCheckFailedException');

    if (req.service === 'sqs') {
      const payload = sqsPayload(operation, reqJson, resJson);
      messages = payload.messages;
      sqsBilled = Math.max(1, Math.ceil(payload.bytes / SQS_CHUNK_BYTES));
      if (operation === 'ReceiveMessage' && payload.messages === 0) operation = 'ReceiveMessage(empty)';
    } else if (req.service === 'dynamodb' && DYNAMODB_WRITES.has(operation)) {
      units = dynamoWriteUnits(operation, reqJson, resJson, failedCondition);
    } else if (req.service === 'dynamodb' && operation === 'GetItem') {
      // An absent item still costs a read unit; an eventually consistent read half of one.
      reads = Math.max(1, Math.ceil(itemSize(resJson?.Item as Json | undefined) / 4096)) * (reqJson?.ConsistentRead === true ? 1 : 0.5);
    } else if (req.service === 'dynamodbstreams' && operation === 'GetRecords') {
      records = Array.isArray(resJson?.Records) ? (resJson.Records as unknown[]).length : 0;
    }

    const key = [caller, callerRegion ?? '', region, req.service, operation].join('|');
    let c = this.counts.get(key);
    if (!c) {
      c = {
        caller,
        ...(callerRegion ? { callerRegion } : {}),
        region,
        service: req.service,
        operation,
        calls: 0,
        errors: 0,
        conditionalFailures: 0,
        requestBytes: 0,
        responseBytes: 0,
        sqsBilledRequests: 0,
        messages: 0,
        writeUnits: 0,
        readUnits: 0,
        records: 0,
        latencyMs: 0,
      };
      this.counts.set(key, c);
    }
    c.calls++;
    if (res.status >= 400) c.errors++;
    if (failedCondition) c.conditionalFailures++;
    c.requestBytes += req.body.length;
    c.responseBytes += res.body.length;
    c.sqsBilledRequests += sqsBilled;
    c.messages += messages;
    c.writeUnits += units;
    c.readUnits += reads;
    c.records += records;
    c.latencyMs += elapsedMs;
    return undefined;
  }

  snapshot(): CallCount[] {
    return [...this.counts.values()].map((c) => ({ ...c }));
  }

  /** Counts since `before` (a snapshot). */
  since(before: readonly CallCount[]): CallCount[] {
    const old = new Map(before.map((c) => [keyOf(c), c]));
    const out: CallCount[] = [];
    for (const c of this.counts.values()) {
      const b = old.get(keyOf(c));
      const d: CallCount = { ...c };
      if (b) {
        for (const f of NUMERIC) d[f] -= b[f];
      }
      if (d.calls > 0) out.push(d);
    }
    return out;
  }
}

const NUMERIC = [
  'calls',
  'errors',
  'conditionalFailures',
  'requestBytes',
  'responseBytes',
  'sqsBilledRequests',
  'messages',
  'writeUnits',
  'readUnits',
  'records',
  'latencyMs',
] as const;

function keyOf(c: CallCount): string {
  return [c.caller, c.callerRegion ?? '', c.region, c.service, c.operation].join('|');
}

function parseCaller(keyId: string | undefined): { caller: string; callerRegion?: string } {
  const m = /^fn\.([a-z]+)\.([a-z0-9-]+)$/.exec(keyId ?? '');
  if (m) return { caller: m[1]!, callerRegion: m[2]! };
  return { caller: keyId ?? 'anonymous' };
}

type Json = Record<string, unknown>;

function parseJson(body: Buffer): Json | undefined {
  if (body.length === 0 || (body[0] !== 0x7b && body[0] !== 0x20)) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as Json;
  } catch {
    return undefined;
  }
}

/** Payload bytes SQS bills for: message bodies and attributes sent or received. */
function sqsPayload(operation: string, req: Json | undefined, res: Json | undefined): { bytes: number; messages: number } {
  const attrBytes = (attrs: unknown) => (attrs ? Buffer.byteLength(JSON.stringify(attrs)) : 0);
  switch (operation) {
    case 'SendMessage':
      return { bytes: Buffer.byteLength(String(req?.MessageBody ?? '')) + attrBytes(req?.MessageAttributes), messages: 1 };
    case 'SendMessageBatch': {
      const entries = (req?.Entries as Json[] | undefined) ?? [];
      return {
        bytes: entries.reduce((n, e) => n + Buffer.byteLength(String(e.MessageBody ?? '')) + attrBytes(e.MessageAttributes), 0),
        messages: entries.length,
      };
    }
    case 'ReceiveMessage': {
      const msgs = (res?.Messages as Json[] | undefined) ?? [];
      return { bytes: msgs.reduce((n, m) => n + Buffer.byteLength(String(m.Body ?? '')) + attrBytes(m.MessageAttributes), 0), messages: msgs.length };
    }
    default:
      return { bytes: 0, messages: 0 };
  }
}

/**
 * Write units of one DynamoDB write call, as DynamoDB bills them: the larger of the item before
 * and after (before is known from ReturnValues ALL_OLD; an UpdateItem returning ALL_NEW only
 * shows the item after, which for a stamp is the larger), and for a failed condition the item
 * that exists (returned by ReturnValuesOnConditionCheckFailure), at least one unit.
 */
function dynamoWriteUnits(operation: string, req: Json | undefined, res: Json | undefined, failedCondition: boolean): number {
  if (failedCondition) return writeUnits(itemSize(res?.Item as Json | undefined));
  const returned = itemSize(res?.Attributes as Json | undefined);
  switch (operation) {
    case 'PutItem':
      return writeUnits(Math.max(itemSize(req?.Item as Json | undefined), returned));
    case 'UpdateItem':
    case 'DeleteItem':
      return writeUnits(returned);
    case 'BatchWriteItem': {
      let n = 0;
      for (const writes of Object.values((req?.RequestItems as Record<string, Json[]> | undefined) ?? {})) {
        for (const w of writes) n += writeUnits(itemSize((w.PutRequest as Json | undefined)?.Item as Json | undefined));
      }
      return n;
    }
    case 'TransactWriteItems':
      // Transactions bill two units per item-KB.
      return (
        2 *
        ((req?.TransactItems as Json[] | undefined) ?? []).reduce(
          (n, t) => n + writeUnits(itemSize(((t.Put as Json | undefined)?.Item as Json | undefined) ?? undefined)),
          0,
        )
      );
    default:
      return 0;
  }
}
