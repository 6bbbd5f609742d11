import { Router, type Request, type Response } from 'express';
import { EVENTS_API, EVENT_TYPES, type EventType, type RouteSpec } from '@zfs-sync/contracts';
import { latestEventSeq, listAudit, listEvents, type LoggedEvent } from '@zfs-sync/db';
import { requireReader } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import type { TailedEvent } from '../events/event-tail.js';
import { badRequest } from '../http/problem.js';
import { queryParams } from '../http/query.js';
import { route } from '../http/route.js';

const SEQ = /^[0-9]{1,19}$/;
/** A client this far behind (bytes queued in its socket) is dropped; it reconnects and resumes from PostgreSQL. */
const SLOW_CLIENT_BYTES = 4 * 1024 * 1024;
const BACKFILL_PAGE = 1000;

function cursor(value: string | undefined, name: string): string | null {
  if (value === undefined || value === '') return null;
  if (!SEQ.test(value) || BigInt(value) > 9223372036854775807n) throw badRequest(`${name} must be an event position (the seq of an event: digits)`, { field: name });
  return value;
}

function eventFilter(q: ReturnType<typeof queryParams>): { after: string | null; types: EventType[] | null } {
  return { after: cursor(q.single('after'), 'after'), types: q.listOf('types', EVENT_TYPES) };
}

/**
 * The event log, the live stream (SSE) and the audit log (issue 10). Read-only: the admin token
 * or the viewer token.
 */
export function eventRoutes(deps: ApiDeps): Router {
  const r = Router();

  route(r, EVENTS_API.listEvents, async (req, res) => {
    requireReader(res);
    const q = queryParams(req, ['after', 'types', 'limit']);
    const { after, types } = eventFilter(q);
    const limit = q.int('limit', 1, 1000, 100);
    res.json(await listEvents(deps.pool, { after, types, limit }));
  });

  const stream = (spec: RouteSpec) =>
    route(r, spec, async (req, res) => {
      requireReader(res);
      const q = queryParams(req, ['after', 'types']);
      const filter = eventFilter(q);
      const header = req.headers['last-event-id'];
      const resumeFrom = typeof header === 'string' && header.trim() !== '' ? cursor(header.trim(), 'Last-Event-ID') : filter.after;
      await serveEventStream(deps, req, res, resumeFrom, filter.types);
    });
  stream(EVENTS_API.eventStream);
  stream(EVENTS_API.dashboardEventStream);

  route(r, EVENTS_API.listAudit, async (req, res) => {
    requireReader(res);
    const q = queryParams(req, ['before', 'resource_type', 'resource_id', 'limit']);
    res.json(
      await listAudit(deps.pool, {
        before: cursor(q.single('before'), 'before'),
        resourceType: q.text('resource_type', 64),
        resourceId: q.text('resource_id', 128),
        limit: q.int('limit', 1, 1000, 100),
      }),
    );
  });

  return r;
}

/**
 * One SSE client. Subscribes to this process's tail of the Redis stream first (buffering), then
 * sends what it missed from PostgreSQL (after `Last-Event-ID`) merged with the tail's recent
 * entries, then live events — each exactly once, in log order, by `seq`.
 */
async function serveEventStream(deps: ApiDeps, req: Request, res: Response, resumeFrom: string | null, types: EventType[] | null): Promise<void> {
  const wanted = (e: { envelope: { type: string } }) => types === null || (types as string[]).includes(e.envelope.type);
  let last: bigint = -1n;
  let buffering: TailedEvent[] | null = [];
  let open = true;

  const send = (seq: string, envelope: TailedEvent['envelope']) => {
    const n = BigInt(seq);
    if (!open || n <= last) return;
    last = n;
    if (!wanted({ envelope })) return;
    res.write(`id: ${seq}\nevent: ${envelope.type}\ndata: ${JSON.stringify(envelope)}\n\n`);
    if (res.writableLength > SLOW_CLIENT_BYTES) close();
  };
  const close = () => {
    if (!open) return;
    open = false;
    clearInterval(keepAlive);
    sub.unsubscribe();
    res.end();
  };

  const sub = deps.eventTail.subscribe(
    (e) => (buffering ? buffering.push(e) : send(e.seq, e.envelope)),
    () => close(),
  );
  res.on('close', close);
  const keepAlive = setInterval(() => {
    if (open) res.write(': keep-alive\n\n');
  }, deps.config.eventsKeepaliveSeconds * 1000);

  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  res.write('retry: 2000\n: connected\n\n');

  try {
    await Promise.race([deps.eventTail.ready(), new Promise((r) => setTimeout(r, 2000))]);
    const recent = sub.recent;
    if (resumeFrom === null) {
      // A new client: from now on. The newest committed position, or anything newer the tail saw.
      const latest = await latestEventSeq(deps.pool);
      last = latest === null ? 0n : BigInt(latest);
    } else {
      last = BigInt(resumeFrom);
      const oldestRecent = recent.length ? BigInt(recent[0]!.seq) : null;
      // From PostgreSQL whatever the tail's memory does not reach back to.
      let after = resumeFrom;
      while (open && (oldestRecent === null || BigInt(after) < oldestRecent - 1n)) {
        const page = await listEvents(deps.pool, { after, limit: BACKFILL_PAGE });
        const merged = mergeBySeq(page.items, []);
        for (const e of merged) send(e.seq, e.envelope);
        if (page.items.length < BACKFILL_PAGE) break;
        after = page.next_after!;
      }
    }
    for (const e of mergeBySeq([], recent)) send(e.seq, e.envelope);
    const pending = buffering ?? [];
    buffering = null;
    for (const e of pending) send(e.seq, e.envelope);
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message }, 'event stream: resuming failed; the client reconnects');
    close();
  }
}

function mergeBySeq(logged: LoggedEvent[], tailed: TailedEvent[]): TailedEvent[] {
  const all: TailedEvent[] = [...logged.map((e) => ({ seq: e.seq, envelope: { id: e.id, type: e.type, occurred_at: e.occurred_at, data: e.data } })), ...tailed];
  return all.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : BigInt(a.seq) > BigInt(b.seq) ? 1 : 0));
}
