/**
 * The agent installed on a simulated host, for tests: the real bundle (built once per test
 * process, as `npm run build:agent` builds it), a config file of its own, run as a separate
 * process in the host's environment (its zfs and ssh first on PATH).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { run, type ExecResult, type SimHost } from '@zfs-sync/testkit';
import { buildAgentBundle } from '../build.js';

let bundle: Promise<string> | undefined;

/** Build the agent bundle into a temporary file, once per test process. */
export function agentBundle(): Promise<string> {
  bundle ??= buildAgentBundle(join(tmpdir(), `zfs-sync-agent-test-${process.pid}.mjs`));
  return bundle;
}

export interface AgentRun extends ExecResult {
  /** The JSON log lines the run wrote to stderr. */
  logs: Array<Record<string, any>>;
}

export interface InstalledAgent {
  host: SimHost;
  configFile: string;
  stateDir: string;
  run: (args: string[], opts?: { env?: Record<string, string>; config?: Record<string, unknown> }) => Promise<AgentRun>;
  credentials: () => { system_id: string; api_key: string };
}

export async function installAgent(host: SimHost, config: Record<string, unknown>): Promise<InstalledAgent> {
  const script = await agentBundle();
  const base = join(host.fleet.dir, 'hosts', host.name, 'agent');
  const stateDir = join(base, 'state');
  mkdirSync(stateDir, { recursive: true });
  const configFile = join(base, 'agent.yaml');
  const settings = {
    hostname: host.hostname,
    ssh_hostname: host.hostname,
    ssh_port: host.sshPort,
    zfs_path: host.zfsPath,
    ssh_path: host.sshPath,
    state_dir: stateDir,
    report_wait_seconds: 60,
    progress_interval_seconds: 1,
    http_retries: 2,
    ...config,
  };
  writeFileSync(configFile, stringify(settings));
  return {
    host,
    configFile,
    stateDir,
    run: async (args, opts = {}) => {
      let file = configFile;
      if (opts.config) {
        file = join(base, `agent-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
        writeFileSync(file, stringify({ ...settings, ...opts.config }));
      }
      const r = await run(process.execPath, [script, '--config', file, '--log-json', ...args], { env: host.env(opts.env) });
      const logs = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>);
      return { ...r, logs };
    },
    credentials: () => {
      const file = join(stateDir, 'credentials.json');
      if (!existsSync(file)) throw new Error(`${host.name} has not enrolled yet`);
      return JSON.parse(readFileSync(file, 'utf8'));
    },
  };
}
