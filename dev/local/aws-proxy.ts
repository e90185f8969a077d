/**
 * A loopback HTTP proxy in front of an AWS emulator that knows which AWS call each request is:
 * service and operation (X-Amz-Target for JSON protocols, `Action=` for the query protocol,
 * method and path for REST), signing region and access key id (from the SigV4 credential
 * scope in the Authorization header). Hooks see every request and response with its body, so
 * the same proxy counts calls (`npm run bench`) and can inject faults: delay a call, answer it
 * itself (a throttling error, a 500), or drop the connection.
 *
 * Point a client at `proxy.endpoint` instead of the emulator. Give each caller its own access
 * key id (e.g. one per Lambda function) and the hooks can tell callers apart: the emulator
 * ignores the key, the proxy reads it from the credential scope.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from '../../src/core/concurrency.ts';

export interface ProxyRequest {
  /** Sequence number of the request in this proxy. */
  readonly id: number;
  readonly method: string;
  /** Path and query string. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /**
   * `dynamodb`, `dynamodbstreams`, `sqs`, or the SigV4 signing name of anything else
   * (`s3`, `lambda`, `cloudformation`, ...); `unknown` for unsigned requests.
   */
  readonly service: string;
  /** `PutItem`, `GetRecords`, `SendMessageBatch`, ...; `METHOD /path` for REST services. */
  readonly operation: string;
  /** Signing region from the credential scope. */
  readonly region?: string;
  /** Access key id from the credential scope: who is calling. */
  readonly accessKeyId?: string;
  /** Epoch ms when the request was fully read. */
  readonly receivedAt: number;
}

export interface ProxyResponse {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
}

/**
 * What to do with a request, decided by an `onRequest` hook. Undefined forwards it as is.
 * `delayMs` waits before forwarding (or before answering with `respond`); `respond` answers
 * without forwarding; `drop` closes the connection without an answer (a network failure);
 * `duplicate` forwards the request a second time once the first is answered (a send that went
 * through twice), and the caller gets the first answer.
 */
export interface RequestDecision {
  readonly delayMs?: number;
  readonly respond?: ProxyResponse;
  readonly drop?: boolean;
  readonly duplicate?: boolean;
}

export interface ProxyHooks {
  /** Called for every request before it is forwarded; the first hook that decides wins. */
  onRequest?(req: ProxyRequest): RequestDecision | undefined | Promise<RequestDecision | undefined>;
  /** Called with every response (forwarded or injected); may replace it. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook may return nothing at all (keep the response as it is)
  onResponse?(req: ProxyRequest, res: ProxyResponse, elapsedMs: number): ProxyResponse | undefined | void;
  /** The emulator could not be reached (the client gets a 502). */
  onError?(req: ProxyRequest, error: Error): void;
}

export interface AwsProxyOptions {
  /** The emulator, e.g. http://localhost:5000. */
  readonly target: string;
  /** Port to listen on (default: a free one). Always 127.0.0.1. */
  readonly port?: number;
  readonly hooks?: ProxyHooks | readonly ProxyHooks[];
}

export interface AwsProxy {
  /** `http://localhost:PORT`. */
  readonly endpoint: string;
  readonly port: number;
  /** Adds a hook after the given ones; returns a function that removes it. */
  addHooks(hooks: ProxyHooks): () => void;
  /** Requests handled so far. */
  readonly requests: number;
  stop(): Promise<void>;
}

export async function startAwsProxy(options: AwsProxyOptions): Promise<AwsProxy> {
  const target = new URL(options.target);
  const hooks: ProxyHooks[] = options.hooks ? (Array.isArray(options.hooks) ? [...options.hooks] : [options.hooks as ProxyHooks]) : [];
  // Keep-alive to the emulator: a new TCP connection per call would dominate the latency.
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  let nextId = 0;

  const server = createServer((incoming, outgoing) => {
    void handle(incoming, outgoing).catch((err: unknown) => {
      if (!outgoing.headersSent) outgoing.writeHead(500, { 'content-type': 'text/plain' });
      outgoing.end(`regionsync aws-proxy: ${(err as Error).message}`);
    });
  });
  server.keepAliveTimeout = 60_000;

  async function handle(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const body = await readBody(incoming);
    const req = describeRequest(++nextId, incoming.method ?? 'GET', incoming.url ?? '/', incoming.headers, body);
    let decision: RequestDecision | undefined;
    for (const h of hooks) {
      decision = await h.onRequest?.(req);
      if (decision) break;
    }
    if (decision?.delayMs) await sleep(decision!.delayMs);
    if (decision?.drop) {
      incoming.socket.destroy();
      return;
    }
    const started = Date.now();
    let res: ProxyResponse;
    if (decision?.respond) {
      res = decision.respond;
    } else {
      try {
        res = await forward(req);
        if (decision?.duplicate)
          await forward(req).catch((err: Error) => {
            for (const h of hooks) h.onError?.(req, err);
          });
      } catch (err) {
        for (const h of hooks) h.onError?.(req, err as Error);
        res = {
          status: 502,
          headers: { 'content-type': 'text/plain' },
          body: Buffer.from(`regionsync aws-proxy: emulator unreachable: ${(err as Error).message}`),
        };
      }
    }
    for (const h of hooks) res = h.onResponse?.(req, res, Date.now() - started) ?? res;
    const headers = { ...res.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    headers['content-length'] = String(res.body.length);
    outgoing.writeHead(res.status, headers);
    outgoing.end(res.body);
  }

  function forward(req: ProxyRequest): Promise<ProxyResponse> {
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = { ...req.headers, 'content-length': String(req.body.length) };
      delete headers['transfer-encoding'];
      delete headers.connection;
      const r = httpRequest(
        { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
        (res) => {
          readBody(res).then((body) => resolve({ status: res.statusCode ?? 502, headers: { ...res.headers }, body }), reject);
        },
      );
      r.on('error', reject);
      r.end(req.body);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://localhost:${port}`,
    port,
    addHooks(h) {
      hooks.push(h);
      return () => {
        const i = hooks.indexOf(h);
        if (i >= 0) hooks.splice(i, 1);
      };
    },
    get requests() {
      return nextId;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

/** Reads service, operation, region and caller from a signed AWS request. */
export function describeRequest(id: number, method: string, url: string, headers: IncomingHttpHeaders, body: Buffer): ProxyRequest {
  const scope = credentialScope(headers.authorization);
  const amzTarget = typeof headers['x-amz-target'] === 'string' ? headers['x-amz-target'] : undefined;
  let service = scope?.service ?? 'unknown';
  let operation: string;
  if (amzTarget) {
    // "DynamoDB_20120810.PutItem", "DynamoDBStreams_20120810.GetRecords", "AmazonSQS.SendMessageBatch"
    const [prefix = '', op = amzTarget] = amzTarget.split('.');
    operation = op;
    if (prefix.startsWith('DynamoDBStreams')) service = 'dynamodbstreams';
    else if (prefix.startsWith('DynamoDB')) service = 'dynamodb';
    else if (prefix === 'AmazonSQS') service = 'sqs';
  } else {
    operation = queryAction(url, headers, body) ?? `${method} ${url.split('?')[0]}`;
  }
  return { id, method, url, headers, body, service, operation, region: scope?.region, accessKeyId: scope?.accessKeyId, receivedAt: Date.now() };
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=..., Signature=...` */
export function credentialScope(authorization: string | undefined): { accessKeyId: string; region: string; service: string } | undefined {
  const m = /Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/.exec(authorization ?? '');
  return m ? { accessKeyId: m[1]!, region: m[2]!, service: m[3]! } : undefined;
}

function queryAction(url: string, headers: IncomingHttpHeaders, body: Buffer): string | undefined {
  const fromUrl = new URLSearchParams(url.split('?')[1] ?? '').get('Action');
  if (fromUrl) return fromUrl;
  if (String(headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return new URLSearchParams(body.toString('utf8')).get('Action') ?? undefined;
  }
  return undefined;
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
