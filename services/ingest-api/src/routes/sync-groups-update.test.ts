import test from 'ava';
import { TEST_ADMIN_TOKEN, createTestEnvironment, registerSystem, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

/** PUT /sync-groups/{id} and the member routes change the stored group (found while auditing them, issue 10). */
let env: TestEnvironment;
let api: TestApi;
const admin = TEST_ADMIN_TOKEN;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
});
test.after.always(async () => {
  await api?.close();
  await env?.teardown();
});

test('PUT /sync-groups/{id}, adding and removing a member change the stored group', async (t) => {
  const [x, y, z] = [await registerSystem(api), await registerSystem(api), await registerSystem(api)];
  const g = await api.request('POST', '/sync-groups', { key: admin, body: { name: `upd-${process.pid}`, system_ids: [x.id, y.id] } });
  t.is(g.status, 201);
  const put = await api.request('PUT', `/sync-groups/${g.body.id}`, { key: admin, body: { name: `upd-${process.pid}-renamed`, max_lag_seconds: 7200 } });
  t.is(put.status, 200, put.text);
  t.like((await api.request('GET', `/sync-groups/${g.body.id}`, { key: admin })).body, { name: `upd-${process.pid}-renamed`, max_lag_seconds: 7200 });
  t.is((await api.request('POST', `/sync-groups/${g.body.id}/systems`, { key: admin, body: { system_ids: [z.id] } })).status, 200);
  t.is((await api.request('DELETE', `/sync-groups/${g.body.id}/systems/${x.id}`, { key: admin })).status, 200);
  t.deepEqual((await api.request('GET', `/sync-groups/${g.body.id}`, { key: admin })).body.system_ids, [y.id, z.id].sort());
});
