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
 * p is the probability per matching call (default 1). Example:
 *   "cut region=eu-west-2; throttle region=us-west-1 service=dynamodb op=PutItem p=0.2; latency from=us-west-1 to=ap-south-2 ms=150"
 */
import type { DeployedFunction } from './discovery.ts';
import type { Credentials } from './clients.ts';
import type { ProxyHooks, ProxyRequest, ProxyResponse, RequestDecision } from './aws-proxy.ts';

export type Fault =
  | { readonly kind: 'cut'; readonly region: string; readonly scope: 'cross' | 'all'; readonly mode: 'refuse' | 'hang'; readonly ms: number }
  | { readonly kind: 'throttle' | '5xx'; readonly region?: string; readonly service?: string; readonly op?: string; readonly p: number; readonly status?: number }
  | { readonly kind: 'latency'; readonly from?: string; readonly to?: string; readonly ms: number; readonly jitter: number };

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
  for (const part of spec.split(';').map((s) => s.trim()).filter(Boolean)) {
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
        faults.push({ kind, ...(o.region ? { region: o.region } : {}), ...(o.service ? { service: o.service } : {}), ...(o.op ? { op: o.op } : {}), p, ...(status ? { status } : {}) });
        break;
      }
      case 'latency':
        allowed(['from', 'to', 'ms', 'jitter']);
        faults.push({ kind: 'latency', ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}), ms: num('ms'), jitter: num('jitter', 0) });
        break;
      default:
        throw new Error(`chaos spec "${part}": unknown fault "${kind}" (cut, throttle, 5xx, latency)`);
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

  heal(): void {
    this.faults = [];
  }

  onRequest(req: ProxyRequest): RequestDecision | undefined {
    const from = callerRegion(req.accessKeyId);
    const to = req.region;
    let delayMs = 0;
    for (const f of this.faults) {
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
    return delayMs > 0 ? { delayMs } : undefined;
  }

  private count(kind: string): void {
    this.injected[kind] = (this.injected[kind] ?? 0) + 1;
  }
}

/** Whether the request uses a JSON protocol (X-Amz-Target) rather than query/XML or REST. */
function isJson(req: ProxyRequest): boolean {
  return typeof req.headers['x-amz-target'] === 'string';
}

/** The throttling error each service really returns, in its protocol's shape. */
export function throttleResponse(req: ProxyRequest): ProxyResponse {
  const code =
    req.service === 'dynamodb' ? 'ProvisionedThroughputExceededException' : req.service === 'sqs' ? 'RequestThrottled' : req.service === 'dynamodbstreams' ? 'LimitExceededException' : 'ThrottlingException';
  const message = `regionsync chaos: ${req.operation} in ${req.region ?? '?'} throttled`;
  return errorResponse(req, 400, code, message, 'Sender');
}

export function serverErrorResponse(req: ProxyRequest, status: number): ProxyResponse {
  const code = status === 503 ? 'ServiceUnavailable' : 'InternalServerError';
  return errorResponse(req, status, code, `regionsync chaos: injected ${status} for ${req.operation}`, 'Receiver');
}

function errorResponse(req: ProxyRequest, status: number, code: string, message: string, fault: 'Sender' | 'Receiver'): ProxyResponse {
  if (isJson(req)) {
    const prefix = req.service === 'dynamodb' ? 'com.amazonaws.dynamodb.v20120810#' : req.service === 'dynamodbstreams' ? 'com.amazonaws.dynamodb.v20120810#' : req.service === 'sqs' ? 'com.amazonaws.sqs#' : '';
    const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `chaos-${req.id}` };
    // SQS's JSON protocol also names the legacy query error code (awsQueryCompatible).
    if (req.service === 'sqs') headers['x-amzn-query-error'] = `${code};${fault}`;
    return { status, headers, body: Buffer.from(JSON.stringify({ __type: `${prefix}${code}`, message })) };
  }
  const xml = `<ErrorResponse><Error><Type>${fault}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>chaos-${req.id}</RequestId></ErrorResponse>`;
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': `chaos-${req.id}` }, body: Buffer.from(xml) };
}
