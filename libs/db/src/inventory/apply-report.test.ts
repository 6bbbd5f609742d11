import test from 'ava';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@zfs-sync/testkit';
import type { ReconcilePayload, SnapshotRow } from '@zfs-sync/contracts';
import { applyReport } from './apply-report.js';

let db: TestDatabase;
let pool: pg.Pool;
test.before(async () => {
  db = await createTestDatabase();
  // One connection: every report below is staged in the same session, one after the other.
  pool = new pg.Pool({ connectionString: db.url, max: 1 });
});
test.after.always(async () => {
  await pool?.end();
  await db?.drop();
});

const row = (name: string, seconds: number, guid: string | null = null): SnapshotRow => [name, guid, null, seconds, '1024', null, null];
let reports = 0;
const batch = (systemId: string, snapshots: SnapshotRow[]): ReconcilePayload => ({
  mode: 'batch',
  system_id: systemId,
  report_id: `batch-${++reports}`,
  generation: null,
  complete: false,
  chunk_index: 0,
  chunk_count: 1,
  body_hash: 'x',
  received_at: new Date().toISOString(),
  datasets: [{ pool: 'tank', dataset: 'logs', snapshots, bookmarks: [] }],
});
const stored = async (systemId: string) =>
  (await pool.query<{ name: string; last_seen: Date }>('select s.name, s.last_seen from snapshots s join datasets d on d.id = s.dataset_id where d.system_id = $1 order by s.name', [systemId])).rows;

test('reports staged one after another on one connection: a failed one leaves nothing behind, later ones apply exactly what they list', async (t) => {
  const systemId = (await pool.query<{ id: string }>(`insert into systems (hostname, platform) values ('stage-host', 'linux') returning id`)).rows[0]!.id;

  // The same name twice in one dataset (the API refuses it; here it reaches the worker): the
  // report fails as a whole, in the first transaction this connection stages anything in.
  await t.throwsAsync(applyReport(pool, batch(systemId, [row('a', 100), row('a', 101), row('z', 102)])));
  t.deepEqual(await stored(systemId), []);

  const first = await applyReport(pool, batch(systemId, [row('a', 100), row('b', 200)]));
  t.like(first, { status: 'applied', counts: { added: 2, removed: 0, changed: 0, unchanged: 0 } });
  const before = await stored(systemId);
  t.deepEqual(before.map((r) => r.name), ['a', 'b']);

  // The original client re-sends its list: unchanged rows count as re-reported (last_seen moves),
  // new ones are added, and what it no longer lists stays (batches only add).
  await new Promise((r) => setTimeout(r, 20));
  const second = await applyReport(pool, batch(systemId, [row('a', 100), row('c', 300)]));
  t.like(second, { status: 'applied', counts: { added: 1, removed: 0, changed: 0, unchanged: 1 } });
  const after = await stored(systemId);
  t.deepEqual(after.map((r) => r.name), ['a', 'b', 'c']);
  t.true(after[0]!.last_seen > before[0]!.last_seen, 'the re-sent unchanged row was touched');
  t.deepEqual(after[1]!.last_seen, before[1]!.last_seen, 'a row the batch did not list was not touched');

  // A guid appearing under a known name is recorded; a later different guid is another snapshot.
  t.like(await applyReport(pool, batch(systemId, [row('a', 100, '11')])), { counts: { added: 0, changed: 1, removed: 0, unchanged: 0 } });
  t.like(await applyReport(pool, batch(systemId, [row('a', 100, '12')])), { counts: { added: 1, changed: 0, removed: 1, unchanged: 0 } });
  const gone = await pool.query<{ name: string; gone_reason: string }>('select name, gone_reason from snapshots_gone where system_id = $1', [systemId]);
  t.deepEqual(gone.rows, [{ name: 'a', gone_reason: 'guid_changed' }]);
});
