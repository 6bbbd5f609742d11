import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { EventEnvelope, EventType } from '@zfs-sync/contracts';
import { eventStreamKey } from '@zfs-sync/queue';

/** A request the receiver got. */
export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export type Handler = (req: Received, res: ServerResponse) => void | Promise<void>;

/**
 * A real HTTP receiver on 127.0.0.1 for webhook tests: every request is recorded, and each path
 * answers as the test says (200 when it says nothing).
 */
export class TestReceiver {
  readonly received: Received[] = [];
  private readonly handlers = new Map<string, Handler>();
  private server!: Server;
  port = 0;

  static async start(): Promise<TestReceiver> {
    const r = new TestReceiver();
    r.server = createServer((req, res) => void r.onRequest(req, res));
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    r.port = (r.server.address() as AddressInfo).port;
    return r;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  on(path: string, handler: Handler): void {
    this.handlers.set(path, handler);
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rec: Received = { path: req.url ?? '/', headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])), body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
    this.received.push(rec);
    const h = this.handlers.get(rec.path);
    if (h) return h(rec, res);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** Append an event to the events stream as the relay does. */
export async function xaddEvent(redisUrl: string, prefix: string, type: EventType, data: Record<string, unknown> = {}): Promise<EventEnvelope> {
  const event: EventEnvelope = { id: randomUUID(), type, occurred_at: new Date().toISOString(), data };
  const redis = new Redis(redisUrl);
  try {
    await redis.xadd(eventStreamKey(prefix), 'MAXLEN', '~', '10000', '*', 'event_id', event.id, 'event', JSON.stringify(event));
  } finally {
    redis.disconnect();
  }
  return event;
}
