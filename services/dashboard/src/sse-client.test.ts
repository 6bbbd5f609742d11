/**
 * The dashboard's live-stream client (web/src/sse.ts) against a local server speaking the events
 * stream's documented contract (issue 10): `id:` = event position, `event:` = type, `data:` = the
 * JSON envelope `{id, type, occurred_at, data}`, comments as keep-alives, `Last-Event-ID` on
 * reconnect. Runs in Node (fetch and TextDecoderStream are the same APIs as in the browser).
 */
import test from 'ava';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventStream, touchesGroup, type LiveEvent, type StreamState } from '../web/src/sse.js';

const GROUP = '11111111-2222-4333-8444-555555555555';
const envelope = (seq: number, type: string, data: Record<string, unknown>) => JSON.stringify({ id: `evt-${seq}`, type, occurred_at: '2026-12-07T10:00:00.000Z', data });

test('reads events split across chunks, skips keep-alives, reconnects by itself and resumes with Last-Event-ID', async (t) => {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    if (requests.length === 1) {
      res.write('retry: 3000\n\n: keepalive\n\n');
      const first = `id: 5\nevent: link.state_changed\ndata: ${envelope(5, 'link.state_changed', { sync_group_id: GROUP, dataset: 'data', from: 'in_sync', to: 'behind' })}\n\n`;
      // Split mid-line, with CRLF line ends in the second event.
      res.write(first.slice(0, 17));
      setTimeout(() => {
        res.write(first.slice(17));
        res.end(`id: 6\r\nevent: system.online\r\ndata: ${envelope(6, 'system.online', { system_id: 'x' })}\r\n\r\n`);
      }, 20);
    } else {
      res.write(`id: 7\nevent: inventory.applied\ndata: ${envelope(7, 'inventory.applied', { system_id: 'y' })}\n\n`);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/events/stream`;
  const stream = new EventStream(url, () => 'zs_admin_token-for-the-test');
  const events: LiveEvent[] = [];
  const states: StreamState[] = [];
  stream.onState((s) => states.push(s));
  const got3 = new Promise<void>((resolve) =>
    stream.subscribe((e) => {
      events.push(e);
      if (events.length === 3) resolve();
    }),
  );
  stream.start();
  await Promise.race([got3, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${events.length} events`)), 10_000))]);
  stream.stop();
  server.close();

  t.deepEqual(
    events.map((e) => [e.id, e.type]),
    [
      ['evt-5', 'link.state_changed'],
      ['evt-6', 'system.online'],
      ['evt-7', 'inventory.applied'],
    ],
  );
  t.is(events[0]!.data.to, 'behind');
  t.is(requests[0]!.authorization, 'Bearer zs_admin_token-for-the-test', 'the token travels in a header, not in the URL');
  t.is(requests[0]!['last-event-id'], undefined);
  t.is(requests[1]!['last-event-id'], '6', 'the reconnect resumes after the last event received');
  t.true(states.includes('live') && states.includes('reconnecting'), states.join(','));
  t.true(touchesGroup(events[0]!, GROUP));
  t.false(touchesGroup(events[0]!, '99999999-2222-4333-8444-555555555555'));
  t.false(touchesGroup(events[1]!, GROUP), 'a system event does not change a group matrix');
  t.true(touchesGroup(events[2]!, GROUP), 'an inventory may change any group');
});

test('a server without the stream (404) is reported as unavailable; without a token nothing is requested', async (t) => {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/events/stream`;
  const stream = new EventStream(url, () => 'tok');
  const unavailable = new Promise<void>((resolve) => stream.onState((s) => s === 'unavailable' && resolve()));
  stream.start();
  await unavailable;
  stream.stop();
  const anonymous = new EventStream(url, () => null);
  anonymous.start();
  await new Promise((r) => setTimeout(r, 100));
  anonymous.stop();
  server.close();
  t.is(hits, 1);
});
