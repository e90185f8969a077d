/**
 * Fault injection for the local environment: a set of faults applied by the aws-proxy
 * (aws-proxy.ts) to the calls passing through it. Each fault targets a region (the call's signing
 * region, or the caller's own region when the caller is a function with a `fn.<name>.<region>`
 * access key), and optionally a service and an operation, like LocalStack's chaos API.
 *
 * Spec (CLI `--chaos`, `regionsync chaos`): faults separated by `;`, each `kind key=value ...`:
 *   cut      region=R [scope=cross|all] [mode=refuse|hang] [ms=N]
 *            R cut off. scope=cross (default): calls between R and other regions fail (a network
 *            partition; R's own functions still reach R). scope=all: every call to or from R fails
 *            (the region is down, its event sources too). refuse closes the connection; hang holds
 *            the call for ms (default 10000) and then closes it.
 *   throttle [region=R] [service=S] [op=O] [p=P]   ProvisionedThroughputExceededException (DynamoDB),
 *            ThrottlingException (Streams), RequestThrottled (SQS), in the service's protocol
 *   5xx      [region=R] [service=S] [op=O] [p=P] [status=500|503]   InternalServerError / ServiceUnavailable
 *   latency  [from=R1] [to=R2] ms=N [jitter=N]     added delay on calls from a caller in R1 to R2
 *   crash    [region=R] [function=shipper|applier|NAME] [p=P] [after=K]
 *            a Lambda runtime crash mid-batch (SIGKILL, out of memory): an invocation of the function
 *            in R is armed with probability P when it starts; at its (K+1)-th AWS call (default
 *            K=1) the call is dropped and its worker is ended abruptly, so the K calls before it
 *            took effect and later ones never leave (calls already in flight in parallel may still
 *            land, as in a real crash). The invocation fails as Lambda reports
 *            a crashed runtime (Runtime.ExitError, "signal: killed"), the next one cold-starts,
 *            and the event source retries: a stream batch from its checkpoint, SQS messages after
 *            their visibility timeout. An invocation making K calls or fewer is not crashed.
 *            function= matches the role (shipper, applier: POWERTOOLS_SERVICE_NAME) or the name.
 *   duplicate [region=R] [service=sqs] [op=SendMessage|SendMessageBatch|DeleteMessage|DeleteMessageBatch] [p=P]
 *            at-least-once delivery of standard queues: a send into R is performed twice (the
 *            caller gets the first answer), or a delete in R is answered as done but not performed
 *            (the message comes back after its visibility timeout). Default: all four operations.
 *   reorder  [region=R] [service=sqs] [p=P]
 *            standard queues keep no order: a ReceiveMessage answer in R (hit with probability P)
 *            comes back shuffled, and some of its messages are held back and handed out, after the
 *            newer ones, by the next receive on that queue. They stay in flight until their
 *            visibility timeout: if it passes first, SQS delivers them again as well (a duplicate,
 *            which standard queues allow).
 *            DynamoDB Streams records are never reordered: AWS keeps them in order per item (per
 *            shard), and the pipeline relies on it.
 * p is the probability per matching call (per invocation for crash; default 1). Example:
 *   "cut region=eu-west-2; throttle region=us-west-1 service=dynamodb op=PutItem p=0.2; latency from=us-west-1 to=ap-south-2 ms=150"
 *   "crash region=us-west-1 function=shipper p=0.3; duplicate service=sqs op=SendMessageBatch p=0.5; reorder region=ap-south-2"
 * Crash needs the runtime to register its invocations (`onInvocationStart: chaos.invocationStarted`).
 */
import type { DeployedFunction } from './discovery.ts';
import type { Credentials } from './clients.ts';
import type { ProxyHooks, ProxyRequest, ProxyResponse, RequestDecision } from './aws-proxy.ts';
import type { RunningInvocation } from './function-host.ts';

/** The SQS calls a `duplicate` fault acts on: sends happen twice, deletes are acknowledged and not done. */
export const DUPLICATE_OPS = ['SendMessage', 'SendMessageBatch', 'DeleteMessage', 'DeleteMessageBatch'] as const;
export type DuplicateOp = (typeof DUPLICATE_OPS)[number];

export type Fault =
  | { readonly kind: 'cut'; readonly region: string; readonly scope: 'cross' | 'all'; readonly mode: 'refuse' | 'hang'; readonly ms: number }
  | {
      readonly kind: 'throttle' | '5xx';
      readonly region?: string;
      readonly service?: string;
      readonly op?: string;
      readonly p: number;
      readonly status?: number;
    }
  | { readonly kind: 'latency'; readonly from?: string; readonly to?: string; readonly ms: number; readonly jitter: number }
  | { readonly kind: 'crash'; readonly region?: string; readonly function?: string; readonly p: number; readonly after: number }
  | { readonly kind: 'duplicate'; readonly region?: string; readonly op?: DuplicateOp; readonly p: number }
  | { readonly kind: 'reorder'; readonly region?: string; readonly p: number };

/** A crash the chaos caused: which function, after how many of its calls, and when its environment came back. */
export interface CrashRecord {
  readonly function: string;
  readonly region: string;
  readonly requestId: string;
  /** AWS calls the invocation made before it was killed (they took effect). */
  readonly afterCalls: number;
  readonly at: number;
  /** When the function's next invocation cold-started in a fresh environment. */
  restartedAt?: number;
}

/** Access key id the runtime gives each function under chaos: the proxy reads the caller's region from it. */
export function chaosKeyId(fn: Pick<DeployedFunction, 'name' | 'region'>): string {
  return `fn.${fn.name}.${fn.region}`;
}
export const chaosFunctionCredentials = (fn: DeployedFunction): Credentials => ({ accessKeyId: chaosKeyId(fn), secretAccessKey: 'chaos' });

/** The caller's region from a `fn.<anything>.<region>` access key id, if it is one. */
export function callerRegion(accessKeyId: string | undefined): string | undefined {
  const m = /^fn\..+\.([a-z]{2}(?:-[a-z]+)+-\d)$/.exec(accessKeyId ?? '');
  return m?.[1];
}

export function parseChaosSpec(spec: string): Fault[] {
  const faults: Fault[] = [];
  for (const part of spec
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kind = '', ...pairs] = part.split(/\s+/);
    const o: Record<string, string> = {};
    for (const pair of pairs) {
      const [k, v] = pair.split('=');
      if (!k || v === undefined || v === '') throw new Error(`chaos spec "${part}": expected key=value, got "${pair}"`);
      o[k] = v;
    }
    const num = (name: string, dflt?: number): number => {
      if (o[name] === undefined) {
        if (dflt === undefined) throw new Error(`chaos spec "${part}": ${name}= is required`);
        return dflt;
      }
      const n = Number(o[name]);
      if (!Number.isFinite(n) || n < 0) throw new Error(`chaos spec "${part}": ${name} must be a non-negative number, got "${o[name]}"`);
      return n;
    };
    const allowed = (keys: string[]) => {
      const bad = Object.keys(o).filter((k) => !keys.includes(k));
      if (bad.length) throw new Error(`chaos spec "${part}": unknown option(s) ${bad.join(', ')} (${kind} takes ${keys.join(', ')})`);
    };
    switch (kind) {
      case 'cut': {
        allowed(['region', 'scope', 'mode', 'ms']);
        if (!o.region) throw new Error(`chaos spec "${part}": region= is required`);
        const scope = o.scope ?? 'cross';
        const mode = o.mode ?? 'refuse';
        if (scope !== 'cross' && scope !== 'all') throw new Error(`chaos spec "${part}": scope must be cross or all`);
        if (mode !== 'refuse' && mode !== 'hang') throw new Error(`chaos spec "${part}": mode must be refuse or hang`);
        faults.push({ kind: 'cut', region: o.region, scope, mode, ms: num('ms', 10_000) });
        break;
      }
      case 'throttle':
      case '5xx': {
        allowed(['region', 'service', 'op', 'p', ...(kind === '5xx' ? ['status'] : [])]);
        const p = num('p', 1);
        if (p > 1) throw new Error(`chaos spec "${part}": p must be 0..1`);
        const status = kind === '5xx' ? num('status', 500) : undefined;
        if (status !== undefined && (status < 500 || status > 599)) throw new Error(`chaos spec "${part}": status must be 5xx`);
        faults.push({
          kind,
          ...(o.region ? { region: o.region } : {}),
          ...(o.service ? { service: o.service } : {}),
          ...(o.op ? { op: o.op } : {}),
          p,
          ...(status ? { status } : {}),
        });
        break;
      }
      case 'latency':
        allowed(['from', 'to', 'ms', 'jitter']);
        faults.push({ kind: 'latency', ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}), ms: num('ms'), jitter: num('jitter', 0) });
        break;
      case 'crash': {
        allowed(['region', 'function', 'p', 'after']);
        const p = num('p', 1);
        if (p > 1) throw new Error(`chaos spec "${part}": p must be 0..1`);
        const after = num('after', 1);
        if (!Number.isInteger(after)) throw new Error(`chaos spec "${part}": after must be a whole number of calls, got "${o.after}"`);
        faults.push({ kind: 'crash', ...(o.region ? { region: o.region } : {}), ...(o.function ? { function: o.function } : {}), p, after });
        break;
      }
      case 'duplicate': {
        allowed(['region', 'service', 'op', 'p']);
        if (o.service !== undefined && o.service !== 'sqs')
          throw new Error(`chaos spec "${part}": service must be sqs (duplicates are SQS's at-least-once delivery), got "${o.service}"`);
        if (o.op !== undefined && !(DUPLICATE_OPS as readonly string[]).includes(o.op))
          throw new Error(`chaos spec "${part}": op must be one of ${DUPLICATE_OPS.join(', ')}, got "${o.op}"`);
        const p = num('p', 1);
        if (p > 1) throw new Error(`chaos spec "${part}": p must be 0..1`);
        faults.push({ kind: 'duplicate', ...(o.region ? { region: o.region } : {}), ...(o.op ? { op: o.op as DuplicateOp } : {}), p });
        break;
      }
      case 'reorder': {
        allowed(['region', 'service', 'p']);
        if (o.service === 'dynamodbstreams' || o.service === 'dynamodb')
          throw new Error(`chaos spec "${part}": service must be sqs: DynamoDB Streams keep each item's records in order, so they are never reordered`);
        if (o.service !== undefined && o.service !== 'sqs') throw new Error(`chaos spec "${part}": service must be sqs, got "${o.service}"`);
        const p = num('p', 1);
        if (p > 1) throw new Error(`chaos spec "${part}": p must be 0..1`);
        faults.push({ kind: 'reorder', ...(o.region ? { region: o.region } : {}), p });
        break;
      }
      default:
        throw new Error(`chaos spec "${part}": unknown fault "${kind}" (cut, throttle, 5xx, latency, crash, duplicate, reorder)`);
    }
  }
  return faults;
}

export interface ChaosCounts {
  /** Calls failed, delayed, throttled per fault kind. */
  readonly injected: Record<string, number>;
}

/**
 * A proxy hook that applies the current faults. Faults can be replaced at any time (`set`,
 * `add`, `heal`); the change applies to the next call.
 */
export class Chaos implements ProxyHooks {
  private faults: Fault[] = [];
  readonly injected: Record<string, number> = {};
  /** Every crash injected, in order. */
  readonly crashes: CrashRecord[] = [];
  /** Invocations running now, by the function's access key: their calls are counted for `crash`. */
  private readonly running = new Map<string, Armed[]>();
  /** Messages a `reorder` held back, by region and queue URL: the next receive on the queue hands them out. */
  private readonly held = new Map<string, unknown[]>();

  constructor(
    faults: readonly Fault[] = [],
    private readonly random: () => number = Math.random,
  ) {
    this.faults = [...faults];
  }

  get active(): readonly Fault[] {
    return this.faults;
  }

  set(faults: readonly Fault[]): void {
    this.faults = [...faults];
  }

  /** Adds a fault; returns a function that removes it. */
  add(fault: Fault): () => void {
    this.faults.push(fault);
    return () => {
      this.faults = this.faults.filter((f) => f !== fault);
    };
  }

  /** Removes every fault. Messages a `reorder` held back still go out with their queue's next receive. */
  heal(): void {
    this.faults = [];
  }

  /**
   * For the runtime (`onInvocationStart`): called as each invocation starts; arms it when a
   * `crash` fault matches, and counts its calls in `onRequest`. Returns what to call when it ends.
   */
  readonly invocationStarted = (inv: RunningInvocation): (() => void) => {
    const key = chaosKeyId(inv.fn);
    if (inv.coldStart) {
      for (const c of this.crashes) if (c.function === inv.fn.name && c.region === inv.fn.region) c.restartedAt ??= Date.now();
    }
    const fault = this.faults.find(
      (f): f is CrashFault =>
        f.kind === 'crash' && (f.region === undefined || f.region === inv.fn.region) && (f.function === undefined || functionMatches(inv.fn, f.function)),
    );
    const armed: Armed = { inv, calls: 0, ...(fault && (fault.p >= 1 || this.random() < fault.p) ? { fault } : {}) };
    this.running.set(key, [...(this.running.get(key) ?? []), armed]);
    return () => {
      const left = (this.running.get(key) ?? []).filter((a) => a !== armed);
      if (left.length) this.running.set(key, left);
      else this.running.delete(key);
    };
  };

  onRequest(req: ProxyRequest): RequestDecision | undefined {
    // A function's call: count it against its invocation (with several environments per function,
    // against the oldest one running), and crash the invocation once it has made `after` calls.
    const armed = req.accessKeyId ? this.running.get(req.accessKeyId)?.[0] : undefined;
    if (armed) {
      armed.calls++;
      if (armed.fault && armed.calls > armed.fault.after && this.faults.includes(armed.fault)) {
        armed.fault = undefined;
        this.crashes.push({
          function: armed.inv.fn.name,
          region: armed.inv.fn.region,
          requestId: armed.inv.requestId,
          afterCalls: armed.calls - 1,
          at: Date.now(),
        });
        this.count('crash');
        armed.inv.crash();
        // The process died before this call got out.
        return { drop: true };
      }
    }
    const from = callerRegion(req.accessKeyId);
    const to = req.region;
    let delayMs = 0;
    // A duplicate applies only if no other fault stops the call: a send into a cut region fails.
    let duplicate: Pick<RequestDecision, 'duplicate' | 'respond'> | undefined;
    for (const f of this.faults) {
      if (f.kind === 'crash' || f.kind === 'reorder') continue;
      if (f.kind === 'duplicate') {
        if (duplicate || req.service !== 'sqs' || !(DUPLICATE_OPS as readonly string[]).includes(req.operation)) continue;
        if (f.region !== undefined && f.region !== to) continue;
        if (f.op !== undefined && f.op !== req.operation) continue;
        if (f.p < 1 && this.random() >= f.p) continue;
        if (req.operation.startsWith('Send')) duplicate = { duplicate: true };
        else {
          const ack = deleteAcknowledgement(req);
          if (ack) duplicate = { respond: ack };
        }
        continue;
      }
      if (f.kind === 'latency') {
        if ((f.from === undefined || f.from === from) && (f.to === undefined || f.to === to)) {
          delayMs += f.ms + (f.jitter ? Math.floor(this.random() * f.jitter) : 0);
          this.count('latency');
        }
        continue;
      }
      if (f.kind === 'cut') {
        // A caller with no region (the Lambda service's pollers, a test client) is in the region it calls.
        const caller = from ?? to;
        const hit = f.scope === 'all' ? caller === f.region || to === f.region : caller !== to && (caller === f.region || to === f.region);
        if (!hit) continue;
        this.count('cut');
        return f.mode === 'hang' ? { delayMs: delayMs + f.ms, drop: true } : { delayMs, drop: true };
      }
      if (f.region !== undefined && f.region !== to) continue;
      if (f.service !== undefined && f.service !== req.service) continue;
      if (f.op !== undefined && f.op !== req.operation) continue;
      if (f.p < 1 && this.random() >= f.p) continue;
      this.count(f.kind);
      return { delayMs, respond: f.kind === 'throttle' ? throttleResponse(req) : serverErrorResponse(req, f.status ?? 500) };
    }
    if (duplicate) {
      this.count('duplicate');
      return { delayMs, ...duplicate };
    }
    return delayMs > 0 ? { delayMs } : undefined;
  }

  /**
   * `reorder`: shuffles a ReceiveMessage answer and holds some of its messages back; held messages
   * go out with the next receive on the queue (whether or not the fault is still on), after the
   * newer ones. Until their visibility timeout passes no other receive gets them; after it, SQS
   * delivers them again too, and the late copy is an at-least-once duplicate.
   */
  onResponse(req: ProxyRequest, res: ProxyResponse): ProxyResponse | undefined {
    if (req.service !== 'sqs' || req.operation !== 'ReceiveMessage' || res.status !== 200 || !isJson(req)) return undefined;
    const request = parseJson(req.body);
    const queue = `${req.region ?? ''}|${String(request?.QueueUrl ?? '')}`;
    const held = this.held.get(queue) ?? [];
    const fault = this.faults.find((f): f is ReorderFault => f.kind === 'reorder' && (f.region === undefined || f.region === req.region));
    if (!held.length && !fault) return undefined;
    const answer = parseJson(res.body);
    if (!answer) return undefined;
    let fresh: unknown[] = Array.isArray(answer.Messages) ? [...answer.Messages] : [];
    let newlyHeld: unknown[] = [];
    if (fault && fresh.length && (fault.p >= 1 || this.random() < fault.p)) {
      for (let i = fresh.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [fresh[i], fresh[j]] = [fresh[j], fresh[i]];
      }
      // A single message is held back whole; of several, up to half.
      const n = fresh.length === 1 ? 1 : 1 + Math.floor(this.random() * Math.floor(fresh.length / 2));
      newlyHeld = fresh.slice(0, n);
      fresh = fresh.slice(n);
      this.count('reorder');
    }
    // Held messages come first for a place in the answer (so none waits long), last in its order.
    const max = Math.max(1, Math.min(10, Number(request?.MaxNumberOfMessages ?? 1) || 1));
    const released = held.slice(0, max);
    const included = fresh.slice(0, max - released.length);
    const stillHeld = [...held.slice(released.length), ...fresh.slice(included.length), ...newlyHeld];
    if (stillHeld.length) this.held.set(queue, stillHeld);
    else this.held.delete(queue);
    const messages = [...included, ...released];
    const rest = { ...answer };
    delete rest.Messages;
    const body = Buffer.from(JSON.stringify(messages.length ? { ...rest, Messages: messages } : rest));
    return { ...res, body };
  }

  private count(kind: string): void {
    this.injected[kind] = (this.injected[kind] ?? 0) + 1;
  }
}

type CrashFault = Extract<Fault, { kind: 'crash' }>;
type ReorderFault = Extract<Fault, { kind: 'reorder' }>;

interface Armed {
  readonly inv: RunningInvocation;
  calls: number;
  /** The crash fault this invocation drew, until it fires. */
  fault?: CrashFault;
}

/** `function=` names a role (the POWERTOOLS_SERVICE_NAME `regionsync-<role>`) or a deployed function name. */
export function functionMatches(fn: Pick<RunningInvocation['fn'], 'name' | 'environment'>, name: string): boolean {
  const service = fn.environment.POWERTOOLS_SERVICE_NAME;
  return fn.name === name || service === name || service === `regionsync-${name}`;
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body.toString('utf8') || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The answer SQS gives a DeleteMessage or DeleteMessageBatch that succeeded, in the request's
 * protocol; undefined when the request cannot be read (it is then forwarded).
 */
export function deleteAcknowledgement(req: ProxyRequest): ProxyResponse | undefined {
  const requestId = `chaos-${req.id}`;
  if (isJson(req)) {
    const body = parseJson(req.body);
    if (!body) return undefined;
    const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId };
    if (req.operation === 'DeleteMessage') return { status: 200, headers, body: Buffer.from('{}') };
    if (!Array.isArray(body.Entries)) return undefined;
    const ids = (body.Entries as Array<{ Id?: unknown }>).map((e) => String(e?.Id ?? ''));
    return { status: 200, headers, body: Buffer.from(JSON.stringify({ Successful: ids.map((Id) => ({ Id })), Failed: [] })) };
  }
  // The query protocol: form fields DeleteMessageBatchRequestEntry.N.Id, an XML answer.
  const form = new URLSearchParams(req.body.toString('utf8'));
  const meta = `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>`;
  const xmlns = 'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"';
  let xml: string;
  if (req.operation === 'DeleteMessage') {
    xml = `<DeleteMessageResponse ${xmlns}>${meta}</DeleteMessageResponse>`;
  } else {
    const ids = [...form.entries()].filter(([k]) => /^DeleteMessageBatchRequestEntry\.\d+\.Id$/.test(k)).map(([, v]) => v);
    const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const entries = ids.map((id) => `<DeleteMessageBatchResultEntry><Id>${escapeXml(id)}</Id></DeleteMessageBatchResultEntry>`).join('');
    xml = `<DeleteMessageBatchResponse ${xmlns}><DeleteMessageBatchResult>${entries}</DeleteMessageBatchResult>${meta}</DeleteMessageBatchResponse>`;
  }
  return { status: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: Buffer.from(xml) };
}

/** Whether the request uses a JSON protocol (X-Amz-Target) rather than query/XML or REST. */
function isJson(req: ProxyRequest): boolean {
  return typeof req.headers['x-amz-target'] === 'string';
}

/** The throttling error each service really returns, in its protocol's shape. */
export function throttleResponse(req: ProxyRequest): ProxyResponse {
  const code =
    req.service === 'dynamodb'
      ? 'ProvisionedThroughputExceededException'
      : req.service === 'sqs'
        ? 'RequestThrottled'
        : req.service === 'dynamodbstreams'
          ? 'LimitExceededException'
          : 'ThrottlingException';
  const message = `regionsync chaos: ${req.operation} in ${req.region ?? '?'} throttled`;
  return errorResponse(req, 400, code, message, 'Sender');
}

export function serverErrorResponse(req: ProxyRequest, status: number): ProxyResponse {
  const code = status === 503 ? 'ServiceUnavailable' : 'InternalServerError';
  return errorResponse(req, status, code, `regionsync chaos: injected ${status} for ${req.operation}`, 'Receiver');
}

function errorResponse(req: ProxyRequest, status: number, code: string, message: string, fault: 'Sender' | 'Receiver'): ProxyResponse {
  if (isJson(req)) {
    const prefix =
      req.service === 'dynamodb'
        ? 'com.amazonaws.dynamodb.v20120810#'
        : req.service === 'dynamodbstreams'
          ? 'com.amazonaws.dynamodb.v20120810#'
          : req.service === 'sqs'
            ? 'com.amazonaws.sqs#'
            : '';
    const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `chaos-${req.id}` };
    // SQS's JSON protocol also names the legacy query error code (awsQueryCompatible).
    if (req.service === 'sqs') headers['x-amzn-query-error'] = `${code};${fault}`;
    return { status, headers, body: Buffer.from(JSON.stringify({ __type: `${prefix}${code}`, message })) };
  }
  const xml = `<ErrorResponse><Error><Type>${fault}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>chaos-${req.id}</RequestId></ErrorResponse>`;
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': `chaos-${req.id}` }, body: Buffer.from(xml) };
}
