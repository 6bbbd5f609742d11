/**
 * Who this host is at the witness: system_id + api_key from the config, else the credentials
 * file, else — with an enrollment token — a registration whose key is saved to that file with
 * 0600 permissions before anything else happens.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AgentConfig } from './config.js';
import { AgentError, EXIT } from './exit-codes.js';
import type { Logger } from './log.js';
import { AGENT_VERSION } from './version.js';
import { WitnessClient, WitnessRefusal, type Credentials } from './witness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Write a file readable by its owner only, atomically (a crash leaves the old file or the new one). */
export function writePrivateFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function readCredentialsFile(path: string, log: Logger): Credentials {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new AgentError(`credentials file ${path} cannot be read: ${(err as Error).message}`, EXIT.CONFIG);
  }
  const systemId = parsed.system_id;
  const apiKey = parsed.api_key;
  if (typeof systemId !== 'string' || !UUID.test(systemId) || typeof apiKey !== 'string' || apiKey.length < 16) {
    throw new AgentError(`credentials file ${path} must hold {"system_id": "<uuid>", "api_key": "zs_host_…"}`, EXIT.CONFIG);
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) log.warn(`credentials file ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  return { systemId: systemId.toLowerCase(), apiKey };
}

export async function resolveCredentials(config: AgentConfig, log: Logger): Promise<Credentials> {
  if (config.systemId && config.apiKey) return { systemId: config.systemId, apiKey: config.apiKey };
  if (existsSync(config.credentialsFile)) return readCredentialsFile(config.credentialsFile, log);
  if (!config.enrollmentToken) {
    throw new AgentError(
      `no credentials: ${config.credentialsFile} does not exist and neither system_id/api_key nor enrollment_token is set`,
      EXIT.CONFIG,
      'register the host once with an enrollment token (enrollment_token in the config), or put its system_id and api_key in the config',
    );
  }
  return enroll(config, log);
}

async function enroll(config: AgentConfig, log: Logger): Promise<Credentials> {
  const client = new WitnessClient(config, log);
  const body: Record<string, unknown> = {
    hostname: config.hostname,
    platform: config.platform,
    ssh_port: config.sshPort,
    ...(config.sshHostname ? { ssh_hostname: config.sshHostname } : {}),
    ...(config.sshUser ? { ssh_user: config.sshUser } : {}),
    extra_metadata: { enrolled_by: `zfs-sync-agent/${AGENT_VERSION}` },
  };
  // Make sure the key can be kept before asking for it: it is shown only once.
  try {
    mkdirSync(dirname(config.credentialsFile), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new AgentError(`cannot create ${dirname(config.credentialsFile)}: ${(err as Error).message}`, EXIT.CANT_CREATE);
  }
  let answer: { id: string; api_key: string };
  try {
    answer = await client.register(body, config.enrollmentToken!);
  } catch (err) {
    if (err instanceof WitnessRefusal && err.status === 409) {
      throw new AgentError(
        `hostname ${config.hostname} is already registered at the witness`,
        EXIT.CONFIG,
        `if this is the same host, ask an operator to rotate its key (POST /systems/{id}/api-key/rotate) and write {"system_id","api_key"} to ${config.credentialsFile}; otherwise set another hostname`,
      );
    }
    if (err instanceof WitnessRefusal) throw new AgentError(`enrollment refused: ${err.detail}`, EXIT.CONFIG);
    throw err;
  }
  try {
    writePrivateFile(config.credentialsFile, `${JSON.stringify({ system_id: answer.id, api_key: answer.api_key, hostname: config.hostname, witness_url: config.witnessUrl }, null, 2)}\n`);
  } catch (err) {
    throw new AgentError(
      `registered as system ${answer.id}, but cannot save its key to ${config.credentialsFile}: ${(err as Error).message}`,
      EXIT.CANT_CREATE,
      'the key is shown only once: ask an operator to rotate it, then store it by hand',
    );
  }
  log.info('registered this host with the witness', { system_id: answer.id, hostname: config.hostname, credentials_file: config.credentialsFile });
  return { systemId: answer.id.toLowerCase(), apiKey: answer.api_key };
}
