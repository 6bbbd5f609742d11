import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { CONFIG_KEYS, type ConfigKeySpec } from './config.schema.js';
import { installRoot } from './install-root.js';

/** The typed, frozen configuration every process receives. Nothing else reads process.env. */
export interface Config {
  databaseUrl: string;
  redisUrl: string;
  port: number;
  host: string;
  opsPort: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logFormat: 'auto' | 'json' | 'pretty';
  adminToken: string | null;
  /** Where a generated admin token is written (resolved; never null after loading). */
  adminTokenFile: string;
  enrollmentToken: string | null;
  openRegistration: boolean;
  heartbeatTimeoutSeconds: number;
  heartbeatSweepSeconds: number;
  syncSweepSeconds: number;
  reportSweepSeconds: number;
  workerProcessors: string[];
  queuePrefix: string;
  jsonBodyLimitBytes: number;
  inventoryBodyLimitBytes: number;
  shutdownTimeoutMs: number;
  workerConcurrency: number;
  apiProcesses: number;
  authCacheSeconds: number;
  inflightBodyLimitBytes: number;
  rateLimitPerMinute: number;
  rateLimitAdminPerMinute: number;
  rateLimitFailedAuthPerMinute: number;
  trustProxy: string | null;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  jobLockMs: number;
  instructionLeaseSeconds: number;
  metricsToken: string | null;
  linkMetrics: boolean;
  bullBoardReadOnly: boolean;
  instructionOfferSeconds: number;
  failureBackoffSeconds: number;
  failureBackoffMaxSeconds: number;
  legacyStaleAfterSeconds: number;
  viewerToken: string | null;
  eventsFlapWindowSeconds: number;
  eventsStreamMaxLength: number;
  eventsRelayPollMs: number;
  eventsKeepaliveSeconds: number;
  eventsRetentionDays: number;
  auditRetentionDays: number;
  retentionSweepSeconds: number;
  webhookAllowedCidrs: string[];
  webhookRetrySchedule: string[];
  webhookDisableAfterSeconds: number;
  webhookTimeoutMs: number;
  webhookDeliveryConcurrency: number;
  webhookEndpointConcurrency: number;
  webhookSecretGraceSeconds: number;
  webhookDeliveryRetentionSeconds: number;
  /** The built dashboard's directory (ends with a slash). */
  dashboardDir: string;
  /** Where the values came from, for the start-up log line (never the values of secrets). */
  sourceFile: string | null;
}

/** Where `npm run build` puts the dashboard in this installation. */
export const DEFAULT_DASHBOARD_DIR = `${join(installRoot(), 'services', 'dashboard', 'dist')}/`;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function jsonSchemaFor(spec: ConfigKeySpec): Record<string, unknown> {
  const nullable = spec.default === null;
  switch (spec.type) {
    case 'integer':
      return { type: 'integer', minimum: spec.minimum, maximum: spec.maximum };
    case 'boolean':
      return { type: 'boolean' };
    case 'string-list':
      return { type: 'array', items: { type: 'string', pattern: 'itemPattern' in spec && spec.itemPattern ? spec.itemPattern : '^[a-z0-9-]+$' }, maxItems: 64 };
    case 'string': {
      const s: Record<string, unknown> = { type: nullable ? ['string', 'null'] : 'string', minLength: spec.minLength ?? 1, maxLength: 4096 };
      if ('enum' in spec && spec.enum) s.enum = nullable ? [...spec.enum, null] : spec.enum;
      if ('pattern' in spec && spec.pattern) s.pattern = spec.pattern;
      return s;
    }
  }
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(CONFIG_KEYS.map((k) => [k.key, jsonSchemaFor(k)])),
};
const ajv = new Ajv({ allErrors: false, strict: true, coerceTypes: false, allowUnionTypes: true });
const validate = ajv.compile(schema);

/** Turn an environment string into the key's type; a wrong shape is reported by the schema. */
function fromEnvString(spec: ConfigKeySpec, raw: string): unknown {
  switch (spec.type) {
    case 'integer':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off', ''].includes(v)) return false;
      return raw;
    }
    case 'string-list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'string':
      return raw === '' ? null : raw;
  }
}

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
  /** Explicit values that win over everything (tests, embedded mode). */
  overrides?: Partial<Record<(typeof CONFIG_KEYS)[number]['key'], unknown>>;
  cwd?: string;
}

/**
 * Build the configuration: defaults, then the YAML file, then the environment, then overrides.
 * A bad value throws a ConfigError with one readable line naming the key, its source and the rule.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const explicitFile = env.ZFS_SYNC_CONFIG;
  const file = resolve(options.cwd ?? process.cwd(), explicitFile ?? 'config/zfs_sync.yaml');
  const values: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  let sourceFile: string | null = null;

  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file}: must be a mapping of keys to values`);
      for (const [k, v] of Object.entries(parsed)) {
        values[k] = v;
        origin[k] = `${file}`;
      }
    }
    sourceFile = file;
  } else if (explicitFile) {
    throw new ConfigError(`ZFS_SYNC_CONFIG: file ${file} does not exist`);
  }

  for (const spec of CONFIG_KEYS) {
    const name = spec.env.find((e) => env[e] !== undefined);
    if (name !== undefined) {
      values[spec.key] = fromEnvString(spec, env[name] as string);
      origin[spec.key] = `env ${name}`;
    }
  }
  for (const [k, v] of Object.entries(options.overrides ?? {})) {
    values[k] = v;
    origin[k] = 'override';
  }
  for (const spec of CONFIG_KEYS) if (!(spec.key in values)) values[spec.key] = spec.default;

  if (!validate(values)) {
    const e = validate.errors![0]!;
    const key = e.instancePath.split('/')[1] ?? (e.params as { additionalProperty?: string }).additionalProperty ?? '?';
    const where = origin[key] ? ` (from ${origin[key]})` : '';
    const rule = e.keyword === 'additionalProperties' ? 'is not a known configuration key' : e.keyword === 'minLength' ? `must be at least ${(e.params as { limit: number }).limit} characters long (a secret: e.g. zs_admin_ and \`openssl rand -hex 32\`); refusing to start` : e.keyword === 'enum' ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.filter((v) => v !== null).join(', ')}` : (e.message ?? 'is invalid');
    throw new ConfigError(`config: ${key}${where} ${rule}`);
  }

  const config = Object.fromEntries(Object.entries(values).map(([k, v]) => [camel(k), v])) as unknown as Config;
  config.sourceFile = sourceFile;
  // The dashboard ships inside the installation; only a relocated build needs the key.
  config.dashboardDir = config.dashboardDir ? `${resolve(config.dashboardDir)}/` : DEFAULT_DASHBOARD_DIR;
  config.adminTokenFile = config.adminTokenFile ? resolve(options.cwd ?? process.cwd(), config.adminTokenFile) : join(homedir(), '.config', 'zfs-sync', 'admin-token');
  return Object.freeze(config);
}

/** Load the config or print one readable line and exit: the start-up path of every process. */
export function loadConfigOrExit(options?: LoadConfigOptions): Readonly<Config> {
  try {
    return loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`zfs-sync: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
