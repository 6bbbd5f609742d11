/**
 * The agent's configuration: defaults, then the YAML file (`/etc/zfs-sync/agent.yaml`, or
 * `--config` / ZFS_SYNC_AGENT_CONFIG), then ZFS_SYNC_AGENT_* environment variables. Every value is
 * checked at start; a bad one stops the agent with one line naming the key, where it came from
 * and the rule (exit 78).
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname as osHostname, platform as osPlatform } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkDatasetGlob, isHostName, isPosixUserName } from '@zfs-sync/domain';
import { AgentError, EXIT } from './exit-codes.js';

export const DEFAULT_CONFIG_FILE = '/etc/zfs-sync/agent.yaml';
export const ENV_PREFIX = 'ZFS_SYNC_AGENT_';

export interface AgentConfig {
  /** The file the values came from (null: environment and defaults only). */
  configFile: string | null;
  /** Base URL of the witness API, ending in /api/v1. */
  witnessUrl: string;
  systemId: string | null;
  apiKey: string | null;
  credentialsFile: string;
  enrollmentToken: string | null;
  hostname: string;
  platform: string;
  sshHostname: string | null;
  sshUser: string | null;
  sshPort: number;
  datasets: { include: string[]; exclude: string[] };
  zfsPath: string;
  sshPath: string;
  /** Extra options for every ssh the agent starts (local policy, never part of a plan). */
  sshOptions: string[];
  maxParallelTransfers: number;
  /** Bytes per second through each transfer's pipe; null: unlimited. */
  bandwidthLimit: number | null;
  stateDir: string;
  caFile: string | null;
  httpTimeoutSeconds: number;
  httpRetries: number;
  reportChunkSize: number;
  reportWaitSeconds: number;
  progressIntervalSeconds: number;
  listingCacheMaxAgeSeconds: number;
  allowRemedies: boolean;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logFormat: 'text' | 'json';
}

type Kind = 'string' | 'integer' | 'boolean' | 'list' | 'size';

interface KeySpec {
  key: string;
  kind: Kind;
  default: unknown;
  doc: string;
  min?: number;
  max?: number;
  values?: readonly string[];
  /** Extra rule: a reason when the value is wrong, else null. */
  check?: (value: any) => string | null;
  secret?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every key, its default and its rule: the example file in infra/agent/ documents the same list. */
export const AGENT_KEYS: readonly KeySpec[] = [
  { key: 'witness_url', kind: 'string', default: null, doc: 'Base URL of the witness API, e.g. https://witness.example.com/api/v1', check: (v: string) => (/^https?:\/\/[^\s/]+/.test(v) ? null : 'must be an http:// or https:// URL') },
  { key: 'system_id', kind: 'string', default: null, doc: "This host's system id (with api_key); else credentials_file or enrollment", check: (v: string) => (UUID.test(v) ? null : 'must be a UUID') },
  { key: 'api_key', kind: 'string', default: null, secret: true, doc: "This host's key (zs_host_…); prefer credentials_file" },
  { key: 'credentials_file', kind: 'string', default: null, doc: 'Where the system id and key are kept (written 0600 at enrollment); default <state_dir>/credentials.json' },
  { key: 'enrollment_token', kind: 'string', default: null, secret: true, doc: 'Token that lets the agent register this host on first run' },
  { key: 'hostname', kind: 'string', default: null, doc: 'Name to register under (default: the machine hostname)', check: (v: string) => (isHostName(v) ? null : 'must be a DNS name or IP literal') },
  { key: 'platform', kind: 'string', default: null, doc: 'linux, freebsd, truenas … (default: from the OS)', check: (v: string) => (/^[A-Za-z0-9][A-Za-z0-9 ._+()/-]{0,63}$/.test(v) ? null : 'must be a short platform name') },
  { key: 'ssh_hostname', kind: 'string', default: null, doc: 'How other hosts reach this one over ssh (registered at enrollment; default: hostname)', check: (v: string) => (isHostName(v) ? null : 'must be a DNS name or IP literal') },
  { key: 'ssh_user', kind: 'string', default: null, doc: 'User other hosts log in as (registered at enrollment)', check: (v: string) => (isPosixUserName(v) ? null : 'must be a POSIX user name') },
  { key: 'ssh_port', kind: 'integer', default: 22, min: 1, max: 65_535, doc: 'ssh port of this host (registered at enrollment)' },
  { key: 'datasets_include', kind: 'list', default: [], doc: 'Dataset globs (relative to the pool) to report and replicate; empty: all', check: globs },
  { key: 'datasets_exclude', kind: 'list', default: [], doc: 'Dataset globs never reported nor touched', check: globs },
  { key: 'zfs_path', kind: 'string', default: 'zfs', doc: 'The zfs command' },
  { key: 'ssh_path', kind: 'string', default: 'ssh', doc: 'The ssh command' },
  { key: 'ssh_options', kind: 'list', default: ['-o', 'BatchMode=yes'], doc: 'Options added to every ssh the agent starts (e.g. -i /root/.ssh/zfs-sync)' },
  { key: 'max_parallel_transfers', kind: 'integer', default: 2, min: 1, max: 64, doc: 'Transfers run at the same time' },
  { key: 'bandwidth_limit', kind: 'size', default: null, doc: 'Bytes per second per transfer (e.g. 50M); unset: unlimited' },
  { key: 'state_dir', kind: 'string', default: '/var/lib/zfs-sync-agent', doc: 'Locks, listing cache, report generation' },
  { key: 'ca_file', kind: 'string', default: null, doc: 'PEM file of the CA that signed the witness certificate', check: (v: string) => (existsSync(v) ? null : `file ${v} does not exist`) },
  { key: 'http_timeout_seconds', kind: 'integer', default: 30, min: 1, max: 3600, doc: 'Timeout of one request to the witness' },
  { key: 'http_retries', kind: 'integer', default: 4, min: 0, max: 20, doc: 'Retries (with backoff and jitter) of a failed request' },
  { key: 'report_chunk_size', kind: 'integer', default: 5_000, min: 100, max: 100_000, doc: 'Snapshots per inventory request' },
  { key: 'report_wait_seconds', kind: 'integer', default: 120, min: 0, max: 3600, doc: 'How long report waits for the witness to apply the inventory' },
  { key: 'progress_interval_seconds', kind: 'integer', default: 30, min: 1, max: 3600, doc: 'How often a running transfer reports its progress (renews its lease)' },
  { key: 'listing_cache_max_age_seconds', kind: 'integer', default: 3600, min: 0, max: 604_800, doc: 'A full zfs listing at least this often even when snapshots_changed says nothing changed; 0: always' },
  { key: 'allow_remedies', kind: 'boolean', default: true, doc: 'Run operator-confirmed remedies (rollback, forced receive); false refuses them on this host' },
  { key: 'log_level', kind: 'string', default: 'info', values: ['error', 'warn', 'info', 'debug'], doc: 'Least important log lines shown' },
  { key: 'log_format', kind: 'string', default: 'text', values: ['text', 'json'], doc: 'Log lines as text or JSON (stderr)' },
];

function globs(list: string[]): string | null {
  for (const g of list) {
    const reason = checkDatasetGlob(g);
    if (reason) return `${JSON.stringify(g)}: ${reason}`;
  }
  return null;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?(?:\/s)?$/i;

/** `50M`, `1.5G`, `800k`, `1048576` → bytes (binary units). */
export function parseSize(text: string): number | null {
  const m = SIZE.exec(text.trim());
  if (!m) return null;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const v = Math.floor(Number(m[1]) * mult);
  return v > 0 ? v : null;
}

function coerce(spec: KeySpec, raw: unknown, fromEnv: boolean): unknown {
  if (raw === null || raw === undefined || raw === '') return spec.kind === 'list' ? [] : null;
  switch (spec.kind) {
    case 'integer':
      if (typeof raw === 'number') return raw;
      return typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const v = String(raw).trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return raw;
    }
    case 'list':
      if (Array.isArray(raw)) return raw.map(String);
      return fromEnv || typeof raw === 'string' ? String(raw).split(',').map((s) => s.trim()).filter(Boolean) : raw;
    case 'size':
      if (typeof raw === 'number') return raw;
      return typeof raw === 'string' ? parseSize(raw) ?? raw : raw;
    default:
      return typeof raw === 'number' ? String(raw) : raw;
  }
}

function checkValue(spec: KeySpec, value: unknown): string | null {
  if (value === null) return null;
  switch (spec.kind) {
    case 'integer':
      if (!Number.isInteger(value)) return 'must be an integer';
      if (spec.min !== undefined && (value as number) < spec.min) return `must be at least ${spec.min}`;
      if (spec.max !== undefined && (value as number) > spec.max) return `must be at most ${spec.max}`;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return 'must be true or false';
      break;
    case 'list':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return 'must be a list of strings (or a comma-separated string)';
      break;
    case 'size':
      if (!Number.isInteger(value) || (value as number) <= 0) return 'must be a size such as 50M, 1.5G or 800K (bytes per second)';
      break;
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      if (spec.values && !spec.values.includes(value)) return `must be one of ${spec.values.join(', ')}`;
      break;
  }
  return spec.check ? spec.check(value) : null;
}

export interface LoadAgentConfigOptions {
  /** --config; wins over ZFS_SYNC_AGENT_CONFIG and the default path. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Command-line settings that win over everything. */
  overrides?: Record<string, unknown>;
  /** Whether the witness URL is needed (not for `--help`, nor the dry parts of status). */
  requireWitness?: boolean;
}

export function loadAgentConfig(opts: LoadAgentConfigOptions = {}): Readonly<AgentConfig> {
  const env = opts.env ?? process.env;
  const explicit = opts.file ?? env[`${ENV_PREFIX}CONFIG`];
  const file = explicit ?? DEFAULT_CONFIG_FILE;
  const raw: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  let configFile: string | null = null;
  const fail = (msg: string): never => {
    throw new AgentError(`config: ${msg}`, EXIT.CONFIG);
  };

  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      fail(`${file} is not valid YAML (${(err as Error).message.split('\n')[0]})`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) fail(`${file} must be a mapping of keys to values`);
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        // `datasets: {include: […], exclude: […]}` is the readable form of the two list keys.
        if (k === 'datasets' && v && typeof v === 'object' && !Array.isArray(v)) {
          for (const [sub, list] of Object.entries(v)) {
            if (sub !== 'include' && sub !== 'exclude') fail(`datasets.${sub} (from ${file}) is not a known key; use include and exclude`);
            raw[`datasets_${sub}`] = list;
            origin[`datasets_${sub}`] = file;
          }
          continue;
        }
        raw[k] = v;
        origin[k] = file;
      }
    }
    configFile = file;
  } else if (explicit) {
    fail(`file ${file} does not exist`);
  }

  const known = new Set(AGENT_KEYS.map((s) => s.key));
  for (const k of Object.keys(raw)) if (!known.has(k)) fail(`${k} (from ${origin[k]}) is not a known key`);
  const values: Record<string, unknown> = {};
  for (const spec of AGENT_KEYS) {
    const envName = `${ENV_PREFIX}${spec.key.toUpperCase()}`;
    let v: unknown = spec.key in raw ? coerce(spec, raw[spec.key], false) : spec.default;
    if (env[envName] !== undefined) {
      v = coerce(spec, env[envName], true);
      origin[spec.key] = `env ${envName}`;
    }
    if (opts.overrides && spec.key in opts.overrides) {
      v = coerce(spec, opts.overrides[spec.key], true);
      origin[spec.key] = 'command line';
    }
    const reason = checkValue(spec, v);
    if (reason) fail(`${spec.key}${origin[spec.key] ? ` (from ${origin[spec.key]})` : ''} ${reason}`);
    values[spec.key] = v;
  }

  let witnessUrl = (values.witness_url as string | null) ?? '';
  if (!witnessUrl && opts.requireWitness !== false) fail(`witness_url is required: set it in ${configFile ?? file} or ${ENV_PREFIX}WITNESS_URL`);
  witnessUrl = witnessUrl.replace(/\/+$/, '');
  if (witnessUrl && !/\/api\/v1$/.test(witnessUrl)) witnessUrl += '/api/v1';
  if ((values.system_id === null) !== (values.api_key === null)) fail('system_id and api_key go together: set both, or neither (then credentials_file or enrollment_token is used)');

  const host = (values.hostname as string | null) ?? osHostname();
  const stateDir = values.state_dir as string;
  return Object.freeze({
    configFile,
    witnessUrl,
    systemId: (values.system_id as string | null)?.toLowerCase() ?? null,
    apiKey: values.api_key as string | null,
    credentialsFile: (values.credentials_file as string | null) ?? join(stateDir, 'credentials.json'),
    enrollmentToken: values.enrollment_token as string | null,
    hostname: host,
    platform: (values.platform as string | null) ?? osPlatform(),
    sshHostname: (values.ssh_hostname as string | null) ?? (isHostName(host) ? host : null),
    sshUser: values.ssh_user as string | null,
    sshPort: values.ssh_port as number,
    datasets: { include: values.datasets_include as string[], exclude: values.datasets_exclude as string[] },
    zfsPath: values.zfs_path as string,
    sshPath: values.ssh_path as string,
    sshOptions: values.ssh_options as string[],
    maxParallelTransfers: values.max_parallel_transfers as number,
    bandwidthLimit: values.bandwidth_limit as number | null,
    stateDir,
    caFile: values.ca_file as string | null,
    httpTimeoutSeconds: values.http_timeout_seconds as number,
    httpRetries: values.http_retries as number,
    reportChunkSize: values.report_chunk_size as number,
    reportWaitSeconds: values.report_wait_seconds as number,
    progressIntervalSeconds: values.progress_interval_seconds as number,
    listingCacheMaxAgeSeconds: values.listing_cache_max_age_seconds as number,
    allowRemedies: values.allow_remedies as boolean,
    logLevel: values.log_level as AgentConfig['logLevel'],
    logFormat: values.log_format as AgentConfig['logFormat'],
  });
}
