/**
 * The witness's API as the agent uses it, over got: timeouts on every request, retries with
 * exponential backoff and jitter (POSTs included: every one the agent sends is idempotent, except
 * enrollment, which is never retried), `Retry-After` honoured, a private CA when configured.
 * Failures become AgentErrors with the exit code a cron user acts on.
 */
import { readFileSync } from 'node:fs';
import got, { HTTPError, RequestError, type Got, type OptionsInit } from 'got';
import type { AgentConfig } from './config.js';
import { AgentError, EXIT } from './exit-codes.js';
import type { Logger } from './log.js';
import { AGENT_VERSION } from './version.js';

/** The witness answered, but refused what was asked (4xx other than 401/403). */
export class WitnessRefusal extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly body: Record<string, unknown>,
  ) {
    super(`the witness answered ${status}: ${detail}`);
    this.name = 'WitnessRefusal';
  }
}

export interface Credentials {
  systemId: string;
  apiKey: string;
}

function problemDetail(body: unknown, fallback: string): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.detail === 'string') return b.detail;
    if (typeof b.title === 'string') return b.title;
  }
  return fallback;
}

export class WitnessClient {
  readonly http: Got;
  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
    private readonly credentials: Credentials | null = null,
  ) {
    const ca = config.caFile ? readFileSync(config.caFile) : undefined;
    this.http = got.extend({
      prefixUrl: config.witnessUrl,
      headers: {
        'user-agent': `zfs-sync-agent/${AGENT_VERSION} node/${process.version}`,
        ...(credentials ? { 'x-api-key': credentials.apiKey } : {}),
      },
      timeout: { request: config.httpTimeoutSeconds * 1000 },
      retry: {
        limit: config.httpRetries,
        methods: ['GET', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'POST'],
        statusCodes: [408, 429, 500, 502, 503, 504, 521, 522, 524],
        // Exponential backoff with jitter, capped; a Retry-After from the witness wins.
        calculateDelay: ({ attemptCount, computedValue, retryAfter }) => {
          if (computedValue === 0) return 0;
          if (retryAfter) return computedValue;
          return Math.min(30_000, 1000 * 2 ** (attemptCount - 1)) * (0.5 + Math.random() / 2);
        },
      },
      https: ca ? { certificateAuthority: ca } : {},
      responseType: 'json',
      hooks: {
        beforeRetry: [
          (error, retryCount) => {
            const why = error.response ? `HTTP ${error.response.statusCode}` : error.code ?? error.message;
            log.warn(`witness request failed (${why}); retrying`, { attempt: retryCount, url: error.options.url?.toString() });
          },
        ],
      },
    });
  }

  get systemId(): string {
    if (!this.credentials) throw new AgentError('no credentials for this host', EXIT.CONFIG);
    return this.credentials.systemId;
  }

  /** One request; errors mapped to what the user can act on. */
  async request<T>(method: 'GET' | 'POST', path: string, options: OptionsInit = {}): Promise<T> {
    try {
      const res = await this.http(path, { method, ...options } as OptionsInit & { isStream?: false; resolveBodyOnly?: false; responseType: 'json' });
      return res.body as T;
    } catch (err) {
      if (err instanceof HTTPError) {
        const status = err.response.statusCode;
        const body = (err.response.body ?? {}) as Record<string, unknown>;
        const detail = problemDetail(body, err.message);
        if (status === 401 || status === 403) {
          throw new AgentError(`the witness refused this host's credentials (${status}): ${detail}`, EXIT.NO_PERMISSION, `check system_id/api_key (or ${this.config.credentialsFile}); a rotated or deleted key needs a new one`);
        }
        if (status >= 500 || status === 408 || status === 429) {
          throw new AgentError(`the witness is not answering properly (${status} after retries): ${detail}`, EXIT.UNAVAILABLE, 'try again later; see the witness logs');
        }
        throw new WitnessRefusal(status, detail, body);
      }
      if (err instanceof RequestError) {
        throw new AgentError(`cannot reach the witness at ${this.config.witnessUrl}: ${err.code ?? ''} ${err.message}`.trim(), EXIT.UNAVAILABLE, 'check witness_url, the network and (for https) ca_file');
      }
      throw err;
    }
  }

  /** Register this host with the enrollment token (never retried: a lost answer would lose the key). */
  register(body: Record<string, unknown>, enrollmentToken: string): Promise<{ id: string; api_key: string; hostname: string }> {
    return this.request('POST', 'systems', { json: body, headers: { authorization: `Bearer ${enrollmentToken}` }, retry: { limit: 0 } });
  }

  heartbeat(body: Record<string, unknown>): Promise<{ last_seen: string }> {
    return this.request('POST', `systems/${this.systemId}/heartbeat`, { json: body });
  }

  /** One inventory chunk, already serialised (see report.ts). */
  postInventory(body: string): Promise<{ status: string; report_id: string }> {
    return this.request('POST', `systems/${this.systemId}/inventory`, { body, headers: { 'content-type': 'application/json' } });
  }

  reportStatus(reportId: string): Promise<{ status: string; counts?: Record<string, number>; error?: string }> {
    return this.request('GET', `reports/${encodeURIComponent(reportId)}`);
  }

  instructions(opts: { lease: boolean }): Promise<{ datasets: unknown[]; incoming?: Array<Record<string, unknown>> }> {
    return this.request('GET', `sync/instructions/${this.systemId}${opts.lease ? '' : '?lease=false'}`);
  }

  instructionStatus(instructionId: string, body: { status: string; bytes_transferred?: string; error?: string }): Promise<Record<string, unknown>> {
    return this.request('POST', `sync/instructions/${instructionId}/status`, { json: body });
  }

  links(): Promise<Array<Record<string, any>>> {
    return this.request('GET', `sync/links?system_id=${this.systemId}`);
  }

  system(): Promise<Record<string, any>> {
    return this.request('GET', `systems/${this.systemId}`);
  }
}
