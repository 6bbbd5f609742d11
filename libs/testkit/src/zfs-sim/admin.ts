/**
 * What a test (or a person trying the simulator) does to a simulated host that is not a `zfs`
 * command: create pools, write data into a dataset (so it is "modified since the most recent
 * snapshot"), bulk-create snapshots, change settings, schedule ssh faults. Shared by the
 * `zfs-sim admin …` command line and the TypeScript fleet harness.
 */
import { join } from 'node:path';
import { FAULTS_DIR, type SshFault } from './ssh.js';
import { ZfsError, getDataset, markSnapshotsChanged, newDataset, newGuid, nowSeconds, withState, type SimSettings } from './state.js';

export function createPool(stateDir: string, pool: string, txgBase = 4): void {
  if (!/^[A-Za-z][A-Za-z0-9_.:-]{0,238}$/.test(pool)) throw new ZfsError(`cannot create '${pool}': invalid pool name`);
  withState(stateDir, (state) => {
    if (state.pools[pool]) throw new ZfsError(`cannot create '${pool}': pool already exists`);
    state.pools[pool] = { txg: String(txgBase) };
    state.datasets[pool] = newDataset(state, pool);
  });
}

/** Data written to a dataset since its newest snapshot (the next snapshot's size). */
export function writeData(stateDir: string, dataset: string, bytes: number): void {
  withState(stateDir, (state) => {
    getDataset(state, dataset).written += bytes;
  });
}

export interface PopulateOptions {
  prefix?: string;
  /** Bytes each snapshot carries. */
  written?: number;
  /** Creation of the first snapshot (Unix seconds); the rest follow one second apart. */
  firstCreation?: number;
}

/** Append `count` snapshots to each dataset at once (one state write): for hosts with hundreds of thousands. */
export function populate(stateDir: string, datasets: string | string[], count: number, opts: PopulateOptions = {}): void {
  withState(stateDir, (state) => {
    for (const dataset of typeof datasets === 'string' ? [datasets] : datasets) {
      const ds = getDataset(state, dataset);
      const pool = dataset.split('/')[0]!;
      let txg = BigInt(state.pools[pool]!.txg);
      const start = opts.firstCreation ?? nowSeconds() - count;
      const prefix = opts.prefix ?? 'auto-';
      const offset = ds.snapshots.length;
      const written = opts.written ?? 4096;
      for (let i = 0; i < count; i++) {
        txg += 1n;
        ds.snapshots.push({ name: `${prefix}${offset + i}`, guid: newGuid(), createtxg: txg.toString(), creation: start + i, written, used: written >> 2, referenced: ds.referenced + written * (i + 1), holds: [] });
      }
      state.pools[pool]!.txg = txg.toString();
      markSnapshotsChanged(ds);
    }
  });
}

export function setSettings(stateDir: string, settings: Partial<SimSettings>): void {
  withState(stateDir, (state) => {
    state.settings = { ...state.settings, ...settings };
  });
}

/** Cut the next `times` ssh connections to `host` after `afterBytes` bytes. */
export function addSshFault(fleetDir: string, fault: SshFault): void {
  withState(join(fleetDir, FAULTS_DIR), (state) => {
    const s = state as unknown as { faults?: SshFault[] };
    s.faults = [...(s.faults ?? []), fault];
  });
}

export async function runAdmin(argv: string[], env: { stateDir?: string; fleetDir?: string }, out: (s: string) => void): Promise<number> {
  const [cmd, ...rest] = argv;
  const need = (v: string | undefined, what: string): string => {
    if (!v) throw new ZfsError(`zfs-sim admin ${cmd}: missing ${what}`, 2);
    return v;
  };
  const stateDir = () => need(env.stateDir, 'state directory (ZFS_SIM_STATE or --state)');
  switch (cmd) {
    case 'pool-create':
      createPool(stateDir(), need(rest[0], 'pool name'), rest[1] ? Number(rest[1]) : undefined);
      return 0;
    case 'write':
      writeData(stateDir(), need(rest[0], 'dataset'), Number(need(rest[1], 'bytes')));
      return 0;
    case 'populate':
      populate(stateDir(), need(rest[0], 'dataset'), Number(need(rest[1], 'count')), rest[2] ? { prefix: rest[2] } : {});
      return 0;
    case 'set': {
      const [key, value] = [need(rest[0], 'setting'), need(rest[1], 'value')];
      if (key === 'snapshots_changed') setSettings(stateDir(), { snapshotsChanged: value === 'on' });
      else if (key === 'send_bytes_per_second') setSettings(stateDir(), { sendBytesPerSecond: value === 'none' ? null : Number(value) });
      else throw new ZfsError(`zfs-sim admin set: unknown setting ${key} (snapshots_changed on|off, send_bytes_per_second N|none)`, 2);
      return 0;
    }
    case 'ssh-fault':
      addSshFault(need(env.fleetDir, 'fleet directory (ZFS_SIM_FLEET)'), { host: need(rest[0], 'host'), afterBytes: Number(need(rest[1], 'bytes')), times: Number(rest[2] ?? 1) });
      return 0;
    default:
      out('usage: zfs-sim admin pool-create POOL [TXG] | write DATASET BYTES | populate DATASET COUNT [PREFIX]\n       | set snapshots_changed on|off | set send_bytes_per_second N|none | ssh-fault HOST BYTES [TIMES]\n');
      return cmd === undefined ? 0 : 2;
  }
}
