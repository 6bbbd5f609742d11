import test from 'ava';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { registerChaosSystem, spawnApi, spawnService, chaosEnvPerFile, sleep, chaosInventory, type ChaosEnv } from '@zfs-sync/testkit/chaos';

let env: ChaosEnv;
chaosEnvPerFile(test, (e) => (env = e));

test.serial('row 7: SIGTERM to the API with keep-alive clients — idle connections closed at once, the in-flight request finishes with Connection: close, exit 0 well within the timeout', async (t) => {
  const api = await spawnApi(env.env({ ZFS_SYNC_SHUTDOWN_TIMEOUT_MS: '10000' }));
  const sys = await registerChaosSystem(api.baseUrl, 'shutdown.test');
  const url = new URL(api.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
  const get = () =>
    new Promise<number>((resolve, reject) => {
      http.get({ host: url.hostname, port: url.port, path: '/api/v1/health/live', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    });
  // Five idle keep-alive connections.
  t.deepEqual(await Promise.all([get(), get(), get(), get(), get()]), [200, 200, 200, 200, 200]);
  // One request in flight: its body still arriving when SIGTERM comes.
  const body = JSON.stringify(chaosInventory('during-shutdown', 5));
  const inflight = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: `/api/v1/systems/${sys.id}/inventory`, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': sys.api_key } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.write(body.slice(0, 100));
    setTimeout(() => req.end(body.slice(100)), 1000);
  });
  await sleep(300);
  const signalled = Date.now();
  api.kill('SIGTERM');
  const answer = await inflight;
  const exit = await api.exited;
  const took = Date.now() - signalled;
  agent.destroy();
  t.log(`exit ${exit.code} after ${took} ms; in-flight answer ${answer.status}, Connection: ${answer.connection}`);
  t.is(answer.status, 202, 'the in-flight request finished');
  t.is(answer.connection, 'close');
  t.is(exit.code, 0, 'a clean exit');
  t.true(took < 5000, `exited ${took} ms after SIGTERM (timeout 10 s)`);
});

function childrenOf(pid: number): Array<{ pid: number; args: string }> {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^\s*(\d+)\s+(.*)$/.exec(l)!;
        return { pid: Number(m[1]), args: m[2]! };
      });
  } catch {
    return [];
  }
}

test.serial('row 15: npm start restarts a crashed child with backoff (the API keeps running), and one Ctrl-C (SIGINT to the whole process group) is one graceful stop for every process', async (t) => {
  const start = spawnService('start', env.env({ PORT: '0', ZFS_SYNC_HOST: '127.0.0.1' }));
  try {
    await start.waitForLine((l) => l.msg === 'workers ready', 90_000);
    await start.waitForLine((l) => String(l.msg ?? '').includes('listening'), 30_000);
    const kids = childrenOf(start.child.pid!);
    const workers = kids.find((k) => k.args.includes('services/workers/src/main.ts'));
    const api = kids.find((k) => k.args.includes('services/ingest-api/src/main.ts'));
    t.truthy(workers && api, JSON.stringify(kids));
    process.kill(workers!.pid, 'SIGKILL');
    // Restarted, not the whole service stopped.
    await start.waitForLine((l) => l.msg === 'workers ready' && start.lines.filter((x) => x.msg === 'workers ready').length >= 2, 30_000);
    t.true(start.alive(), 'npm start still runs');
    t.true(childrenOf(start.child.pid!).some((k) => k.pid === api!.pid), 'the API was not stopped');
    // Ctrl-C: the terminal signals the whole foreground process group.
    const signalled = Date.now();
    process.kill(-start.child.pid!, 'SIGINT');
    const exit = await start.exited;
    t.log(`npm start exited ${exit.code ?? exit.signal} ${Date.now() - signalled} ms after Ctrl-C`);
    t.is(exit.code, 0);
    t.deepEqual(start.lines.filter((l) => String(l.msg).includes('second signal')).map((l) => l.service), [], 'no process was cut short by a second signal');
    t.is(start.lines.filter((l) => l.msg === 'stopped' && l.clean === true).length, 2, 'both children stopped cleanly');
  } finally {
    try {
      process.kill(-start.child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});
