/** Command-line flags of the ingest benchmark (`npm run bench:ingest -- --help`). */

export interface BenchArgs {
  systems: number;
  datasets: number;
  snapshotsPerDataset: number;
  /** Worker concurrency values to run, one full round (fresh database, fresh processes) each. */
  concurrency: number[];
  /** HTTP requests in flight for the inventory phases. */
  clientConcurrency: number;
  batchSystems: number;
  batchRowsPerSystem: number;
  batchChunk: number;
  /** Batch systems posting at once (each posts its chunks one after another). */
  batchConcurrency: number;
  /** API processes behind the port (ZFS_SYNC_API_PROCESSES). */
  apiProcesses: number;
  /** Worker processes (reconcile + recompute-links each). */
  workerProcesses: number;
  skipBatch: boolean;
  skipUnchanged: boolean;
  timeoutS: number;
  /** Keep the database and queue keys after the run (for inspection); printed at the end. */
  keep: boolean;
  /** Write the result JSON (off with --no-write). */
  write: boolean;
  /** Run the services under `node --cpu-prof` and print where their CPU time went. */
  profile: boolean;
  /** Run the services from their TypeScript sources through tsx instead of the compiled dist/ bundles. */
  fromSource: boolean;
}

/** Best worker concurrency found on the 2-core reference machine (see the README's performance section). */
export const DEFAULT_WORKER_CONCURRENCY = 4;

const HELP = `npm run bench:ingest -- [flags]

  --systems N                  systems posting full inventories            (default 100)
  --datasets N                 datasets per system                          (default 10)
  --snapshots-per-dataset N    snapshots per dataset                        (default 1000)
  --concurrency N[,N...]       ZFS_SYNC_WORKER_CONCURRENCY; a list runs one round each
                               (also env BENCH_CONCURRENCY)                 (default ${DEFAULT_WORKER_CONCURRENCY})
  --client-concurrency N       inventory POSTs in flight                    (default 16)
  --batch-systems N            systems of the /snapshots/batch variant      (default 10)
  --batch-rows N               snapshots per system in the batch variant    (default 5000)
  --batch-chunk N              items per batch request, sent sequentially   (default 1000)
  --batch-concurrency N        batch systems posting at once                (default 4)
  --api-processes N            ZFS_SYNC_API_PROCESSES of the API            (default 1)
  --worker-processes N         worker processes                             (default 1)
  --skip-batch                 skip the /snapshots/batch variant
  --skip-unchanged             skip the unchanged re-report phase
  --timeout-s N                give up waiting for reports after N seconds (default 1800)
  --keep                       keep the throwaway database and queue keys
  --no-write                   do not write bench/results/ingest-*.json
  --profile                    run API and worker with --cpu-prof; print their top functions and
                               modules by self time (profiling slows them down: not for the numbers;
                               implies --from-source, so the profile names the source modules)
  --from-source                run API and worker from the TypeScript sources through tsx (also env
                               BENCH_FROM_SOURCE=1) instead of the compiled bundles production runs,
                               which the benchmark builds first (npm run build:server)
`;

function positiveInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer (got ${v ?? 'nothing'})`);
  return n;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchArgs {
  const envConcurrency = env.BENCH_CONCURRENCY;
  const a: BenchArgs = {
    systems: 100,
    datasets: 10,
    snapshotsPerDataset: 1000,
    concurrency: envConcurrency ? envConcurrency.split(',').map((s) => positiveInt('BENCH_CONCURRENCY', s.trim())) : [DEFAULT_WORKER_CONCURRENCY],
    clientConcurrency: 16,
    batchSystems: 10,
    batchRowsPerSystem: 5_000,
    batchChunk: 1000,
    batchConcurrency: 4,
    apiProcesses: Number(env.ZFS_SYNC_API_PROCESSES ?? 1) || 1,
    workerProcesses: 1,
    skipBatch: false,
    skipUnchanged: false,
    timeoutS: 1800,
    keep: false,
    write: true,
    profile: false,
    fromSource: env.BENCH_FROM_SOURCE === '1',
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const next = () => value ?? argv[++i];
    switch (flag) {
      case '--systems': a.systems = positiveInt(flag, next()); break;
      case '--datasets': a.datasets = positiveInt(flag, next()); break;
      case '--snapshots-per-dataset': a.snapshotsPerDataset = positiveInt(flag, next()); break;
      case '--concurrency': a.concurrency = (next() ?? '').split(',').map((s) => positiveInt(flag, s.trim())); break;
      case '--client-concurrency': a.clientConcurrency = positiveInt(flag, next()); break;
      case '--batch-systems': a.batchSystems = positiveInt(flag, next()); break;
      case '--batch-rows': a.batchRowsPerSystem = positiveInt(flag, next()); break;
      case '--batch-concurrency': a.batchConcurrency = positiveInt(flag, next()); break;
      case '--api-processes': a.apiProcesses = positiveInt(flag, next()); break;
      case '--worker-processes': a.workerProcesses = positiveInt(flag, next()); break;
      case '--batch-chunk': a.batchChunk = positiveInt(flag, next()); break;
      case '--skip-batch': a.skipBatch = true; break;
      case '--skip-unchanged': a.skipUnchanged = true; break;
      case '--timeout-s': a.timeoutS = positiveInt(flag, next()); break;
      case '--keep': a.keep = true; break;
      case '--no-write': a.write = false; break;
      case '--profile': a.profile = true; a.fromSource = true; break;
      case '--from-source': a.fromSource = true; break;
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${flag}\n\n${HELP}`);
    }
  }
  if (a.batchChunk > 50_000) throw new Error('--batch-chunk must be at most 50000 (the endpoint limit)');
  return a;
}
