/**
 * The ops console's HTTP server (node:http, no framework): the page (console/index.html,
 * console.js, console.css, no build step), uPlot's files from node_modules (no CDN), and the JSON
 * the page polls: `/api/views` (the app's dashboards and their widgets) and
 * `/api/views/<name>?minutes=N` (what one shows now, console.ts).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../core/errors.ts';
import { type ConsoleSource, UnknownViewError } from './console.ts';

/** Where and how {@link startConsoleServer} serves. */
export interface ConsoleServerOptions {
  readonly source: ConsoleSource;
  /** The app's name, in the page's title. */
  readonly appName: string;
  /** The emulator endpoint read, shown in the page; undefined for AWS. @default AWS */
  readonly endpoint?: string;
  /** @default 8080; 0 picks a free port */
  readonly port?: number;
  /** @default 127.0.0.1 (this machine only) */
  readonly host?: string;
  /** How often the page refreshes, seconds. @default 5 */
  readonly refreshSeconds?: number;
  /** Minutes of metrics the page shows at first. @default 30 */
  readonly minutes?: number;
}

/** A running console server. */
export interface ConsoleServer {
  /** `http://HOST:PORT/` */
  readonly url: string;
  close(): Promise<void>;
}

/** The longest time range a view can ask for (CloudWatch keeps 1-minute points 15 days; a day is plenty for a console). */
export const MAX_MINUTES = 24 * 60;

const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};
const VENDOR_FILES: Readonly<Record<string, { module: string; type: string }>> = {
  '/vendor/uPlot.iife.min.js': { module: 'uplot/dist/uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { module: 'uplot/dist/uPlot.min.css', type: 'text/css; charset=utf-8' },
};

/** Serves the console until `close()`; resolves once listening. */
export async function startConsoleServer(o: ConsoleServerOptions): Promise<ConsoleServer> {
  const require = createRequire(import.meta.url);
  const pageDir = new URL('./console/', import.meta.url);
  const server = createServer((req, res) => {
    void handle(o, req, res, pageDir, require).catch((e: unknown) => send(res, 500, 'text/plain; charset=utf-8', errorMessage(e)));
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(o: ConsoleServerOptions, req: IncomingMessage, res: ServerResponse, pageDir: URL, require: NodeJS.Require): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://console');
  if (req.method !== 'GET') return send(res, 405, 'text/plain; charset=utf-8', `${req.method} is not served: the console is read-only`);
  const page = PAGE_FILES[url.pathname];
  if (page) return send(res, 200, page.type, await readFile(new URL(page.file, pageDir)));
  const vendor = VENDOR_FILES[url.pathname];
  if (vendor) return send(res, 200, vendor.type, await readFile(require.resolve(vendor.module)));
  if (url.pathname === '/api/views') {
    const views = await o.source.views();
    return json(res, 200, {
      app: o.appName,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      refreshSeconds: o.refreshSeconds ?? 5,
      minutes: o.minutes ?? 30,
      views: views.map((v) => ({ name: v.name, region: v.region, ...(v.forRegion ? { forRegion: v.forRegion } : {}), widgets: v.widgets })),
    });
  }
  if (url.pathname.startsWith('/api/views/')) {
    const name = decodeURIComponent(url.pathname.slice('/api/views/'.length));
    const raw = url.searchParams.get('minutes') ?? String(o.minutes ?? 30);
    const minutes = Number(raw);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_MINUTES)
      return json(res, 400, { error: `minutes must be a whole number from 1 to ${MAX_MINUTES} (got "${raw}")` });
    try {
      return json(res, 200, await o.source.viewData(name, minutes));
    } catch (e) {
      if (e instanceof UnknownViewError) return json(res, 404, { error: e.message });
      throw e;
    }
  }
  return send(res, 404, 'text/plain; charset=utf-8', `not found: ${url.pathname}`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
