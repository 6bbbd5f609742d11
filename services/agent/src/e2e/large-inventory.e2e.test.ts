/**
 * A host with 300,000 snapshots (10 datasets × 30,000, plus a bookmark): the agent streams the
 * listing through its spool and sends it in chunks, so its memory stays flat. Its peak RSS is
 * printed and must stay within 150 MiB.
 */
import test from 'ava';
import { SimFleet, pgQuery } from '@zfs-sync/testkit';
import { TEST_ENROLLMENT_TOKEN, startTestStack, type TestStack } from '@zfs-sync/testkit/stack';
import { installAgent } from '../testing/agent-harness.js';

let stack: TestStack;
let fleet: SimFleet;
test.before(async () => {
  stack = await startTestStack();
  fleet = await SimFleet.create();
});
test.after.always(async () => {
  await stack?.stop();
  await fleet?.cleanup();
});

const DATASETS = 10;
const PER_DATASET = 30_000;

test('300,000 snapshots: reported completely, with the agent\'s peak RSS bounded at 150 MiB', async (t) => {
  const host = fleet.addHost('big', { hostname: 'big.fleet.test', pools: { tank: 5_000_000 } });
  const names = Array.from({ length: DATASETS }, (_, i) => `tank/data${i}`);
  for (const name of names) await host.zfsOk('create', name);
  host.populate(names, PER_DATASET, { prefix: 'hourly-' });
  await host.zfsOk('bookmark', 'tank/data0@hourly-0', 'tank/data0#first');
  const agent = await installAgent(host, { witness_url: stack.api.baseUrl, enrollment_token: TEST_ENROLLMENT_TOKEN, report_wait_seconds: 600, http_timeout_seconds: 120 });

  const started = Date.now();
  const first = await agent.run(['report']);
  t.is(first.code, 0, first.stderr.slice(-2000));
  const summary = first.logs.find((l) => /^reported /.test(l.msg))!;
  const total = DATASETS * PER_DATASET + 1;
  t.like(summary, { msg: `reported ${total} snapshots and bookmarks in ${DATASETS + 1} datasets`, status: 'applied', listing: 'full', chunks: Math.ceil(total / 5_000) });
  t.log(`report of ${total} snapshots and bookmarks: ${((Date.now() - started) / 1000).toFixed(1)} s end to end (zfs list into the spool ${summary.listed_s} s; agent CPU ${summary.cpu_s} s), agent peak RSS ${summary.peak_rss_mib} MiB`);
  t.true(summary.peak_rss_mib <= 150, `peak RSS ${summary.peak_rss_mib} MiB`);

  const id = agent.credentials().system_id;
  const { rows } = await pgQuery(stack.env.db.url, `select count(*)::int as n, count(distinct s.guid)::int as guids from snapshots s join datasets d on d.id = s.dataset_id where d.system_id = $1 and d.gone_at is null`, [id]);
  t.deepEqual(rows[0], { n: total, guids: total - 1 }, 'every snapshot and bookmark arrived, with its guid (the bookmark shares its snapshot\'s)');
});
