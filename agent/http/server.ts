import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { createLogger } from '../../util/log.ts';
import { redact } from '../../util/redact.ts';
import { err, ok, type Result } from '../../util/result.ts';
import { MAX_COMMAND_BYTES } from '../commands/command-body.ts';
import type { CommandDispatcher } from '../commands/types.ts';
import { CAMERA_NAME } from '../config/schema.ts';
import type { AgentMetrics } from '../stats/prometheus-metrics.ts';
import type { AgentView } from './agent-view.ts';
import { createHostCheck } from './host-check.ts';

const log = createLogger('http');

export interface HttpServerOptions {
  /** `http.host`: 127.0.0.1 unless the page must be reachable from the plant network. */
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  view: AgentView;
  /** The same dispatcher MQTT commands go through. */
  dispatcher: CommandDispatcher;
  metrics: AgentMetrics;
  /** `http.allowed_hosts`: Host values answered besides the bound address and loopback names. */
  allowedHosts?: readonly string[];
}

export interface RunningHttpServer {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

const STATIC_DIR = path.join(import.meta.dirname, 'static');
// Everything the page needs is served here: no CDN, so it works on an isolated line network.
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; script-src 'self'";

// Names that reach a lookup from a URL: a camera name as the configuration allows it, an event id as
// the detector makes them (UUIDs); anything else is refused before the view is asked.
const CAMERA_NAME_PATTERN = new RegExp(CAMERA_NAME);
const EVENT_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, match: RegExpExecArray) => void | Promise<void>;
interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  handle: Handler;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(redact(JSON.stringify(body)));
}

function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

/** Reads at most `limit` bytes; null when the body is longer. */
async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Commands from the page. Browsers send a cross-site form POST without a preflight only as
 * text/plain or form encodings, so requiring application/json (and a same-origin Origin when one is
 * sent) keeps other web sites the operator visits from triggering commands. Requests from loopback
 * count as trusted: the dispatcher does not ask them for a signature. (Their Host has already been
 * checked before routing, so a rebound name never gets this far.)
 */
async function handleCommand(req: http.IncomingMessage, res: http.ServerResponse, name: string, dispatcher: CommandDispatcher) {
  const refuse = (status: number, error: string) => sendJson(res, status, { ok: false, command: name, error });
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return refuse(415, 'commands must be sent as application/json');
  const origin = req.headers.origin;
  if (origin !== undefined && origin.replace(/^https?:\/\//, '') !== req.headers.host) return refuse(403, `cross-origin command from ${origin} refused`);
  const body = await readBody(req, MAX_COMMAND_BYTES);
  if (body === null) {
    res.setHeader('Connection', 'close');
    return refuse(413, `payload exceeds the ${MAX_COMMAND_BYTES}-byte limit`);
  }
  const reply = await dispatcher.dispatch({ name, payload: body, trusted: isLoopback(req.socket.remoteAddress) });
  sendJson(res, reply.ok ? 200 : 400, reply);
}

function routes(opts: HttpServerOptions): Route[] {
  const page = readFileSync(path.join(STATIC_DIR, 'index.html'));
  const script = readFileSync(path.join(STATIC_DIR, 'app.js'));
  const { view, metrics, dispatcher } = opts;
  const camera = (m: RegExpExecArray) => decodeURIComponent(m[1]);
  return [
    {
      method: 'GET',
      pattern: /^\/$/,
      handle: (_q, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CONTENT_SECURITY_POLICY });
        res.end(page);
      },
    },
    {
      method: 'GET',
      pattern: /^\/app\.js$/,
      handle: (_q, res) => {
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
        res.end(script);
      },
    },
    {
      method: 'GET',
      pattern: /^\/metrics$/,
      handle: async (_q, res) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(text);
      },
    },
    {
      method: 'GET',
      pattern: /^\/healthz$/,
      handle: (_q, res) => {
        const health = view.health();
        sendJson(res, health.healthy ? 200 : 503, health);
      },
    },
    { method: 'GET', pattern: /^\/api\/state$/, handle: (_q, res) => sendJson(res, 200, view.state()) },
    {
      method: 'GET',
      pattern: /^\/api\/cameras\/([^/]+)\/frame$/,
      handle: async (_q, res, m) => {
        const frame = await view.frame(camera(m));
        if (!frame) return sendJson(res, 404, { error: `no frame from camera "${camera(m)}" yet` });
        res.writeHead(200, { 'Content-Type': frame.contentType, 'Cache-Control': 'no-store' });
        res.end(frame.bytes);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/cameras\/([^/]+)\/mask$/,
      handle: async (_q, res, m) => {
        const mask = await view.mask(camera(m));
        if (!mask) return sendJson(res, 404, { error: `no anomaly mask for camera "${camera(m)}" yet` });
        res.writeHead(200, { 'Content-Type': 'image/png', 'Cache-Control': 'no-store' });
        res.end(mask);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/events\/([^/]+)\/([^/]+)\.jpg$/,
      handle: async (_q, res, m) => {
        const [cam, id] = [camera(m), decodeURIComponent(m[2])];
        if (!CAMERA_NAME_PATTERN.test(cam) || !EVENT_ID_PATTERN.test(id)) {
          return sendJson(res, 400, {
            error: 'event thumbnails are /api/events/<camera>/<event id>.jpg: a configured camera name and an event id of letters, digits and -',
          });
        }
        const jpeg = await view.eventThumbnail(cam, id);
        if (!jpeg) return sendJson(res, 404, { error: `no thumbnail of event ${id} of camera "${cam}"` });
        // The page asks with the peak's ts in the query: a new peak is a new URL.
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Cache-Control': 'private, max-age=3600' });
        res.end(jpeg);
      },
    },
    { method: 'GET', pattern: /^\/api\/prompt-sets$/, handle: async (_q, res) => sendJson(res, 200, await view.promptSets()) },
    { method: 'POST', pattern: /^\/api\/cmd\/([^/]+)$/, handle: (req, res, m) => handleCommand(req, res, decodeURIComponent(m[1]), dispatcher) },
  ];
}

/** `/` live page, `/metrics`, `/healthz`, the page's JSON and images (frames, masks, event thumbnails), and `/api/cmd/<name>`. */
export async function startHttpServer(opts: HttpServerOptions): Promise<Result<RunningHttpServer>> {
  const table = routes(opts);
  // The port is known once listening (0 picks one); until then no request can arrive.
  let hostCheck = createHostCheck({ host: opts.host, port: opts.port }, opts.allowedHosts ?? []);
  const server = http.createServer(async (req, res) => {
    const misdirected = hostCheck.problem(req.headers.host);
    if (misdirected !== null) {
      log.warn('request for another host refused', { host: req.headers.host, path: req.url });
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      return res.end(`421 Misdirected Request: ${misdirected}\n`);
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const matches = table.map((r) => [r, r.pattern.exec(url.pathname)] as const).filter(([, m]) => m !== null);
    const hit = matches.find(([r]) => r.method === req.method);
    try {
      if (hit) return await hit[0].handle(req, res, hit[1] as RegExpExecArray);
      if (matches.length) {
        res.setHeader('Allow', matches.map(([r]) => r.method).join(', '));
        return sendJson(res, 405, { error: `${req.method} is not allowed on ${url.pathname}` });
      }
      sendJson(res, 404, { error: `nothing at ${url.pathname}` });
    } catch (e) {
      // A malformed escape in a camera name, a provider that threw: the request fails, the agent does not.
      const status = e instanceof URIError ? 400 : 500;
      if (status === 500) log.error('HTTP request failed', { path: url.pathname, error: (e as Error).stack ?? String(e) });
      if (!res.headersSent) sendJson(res, status, { error: (e as Error).message });
      else res.destroy();
    }
  });
  const listening = await new Promise<Result<number>>((resolve) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const reason =
        e.code === 'EADDRINUSE' ? 'the port is already in use (EADDRINUSE): set http.port or stop the other process' : `${e.message} (http.host / http.port)`;
      resolve(err(`HTTP server cannot listen on ${opts.host}:${opts.port}: ${reason}`));
    });
    server.listen(opts.port, opts.host, () => resolve(ok((server.address() as net.AddressInfo).port)));
  });
  if (!listening.ok) return listening;
  hostCheck = createHostCheck({ host: opts.host, port: listening.value }, opts.allowedHosts ?? []);
  log.info('HTTP server listening', { url: `http://${opts.host}:${listening.value}/` });
  return ok({
    host: opts.host,
    port: listening.value,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
