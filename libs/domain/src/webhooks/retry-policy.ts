/**
 * What a webhook delivery attempt's outcome means: success, retry later (when), or give up — and
 * whether the endpoint must be disabled. Pure: the delivery processor records what this decides.
 */

/** Svix's schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_RETRY_SCHEDULE = ['5s', '5m', '30m', '2h', '5h', '10h', '10h'] as const;

/** Retry-After values beyond this are capped (a receiver cannot park a delivery for weeks). */
export const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `5s`, `5m`, `2h`, `1d` → milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`not a duration (e.g. 5s, 5m, 2h): ${text}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** `Retry-After` as seconds or an HTTP date → milliseconds from `now` (null when absent or unreadable). */
export function parseRetryAfterMs(value: string | undefined, now: Date): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.min(Math.max(0, at - now.getTime()), MAX_RETRY_AFTER_MS);
}

export type AttemptOutcome =
  | { kind: 'success' }
  /** 410 Gone: the receiver says the endpoint no longer exists. */
  | { kind: 'gone' }
  | { kind: 'failure'; retryAfterMs: number | null };

/** 2xx succeeds; 3xx is a failure (redirects are never followed); 410 disables; 429/503 carry Retry-After. */
export function classifyResponse(statusCode: number, retryAfter: string | undefined, now: Date): AttemptOutcome {
  if (statusCode >= 200 && statusCode < 300) return { kind: 'success' };
  if (statusCode === 410) return { kind: 'gone' };
  return { kind: 'failure', retryAfterMs: statusCode === 429 || statusCode === 503 ? parseRetryAfterMs(retryAfter, now) : null };
}

export interface RetryPolicyInput {
  /** 1-based number of the attempt just made. */
  attempt: number;
  outcome: AttemptOutcome;
  /** Delays after attempt 1, 2, …; after the last one the delivery is given up. */
  scheduleMs: readonly number[];
  now: Date;
  /** Since when the endpoint has failed without a success in between (null: it was healthy). */
  failingSince: Date | null;
  /** An endpoint failing continuously for this long is disabled. */
  disableAfterMs: number;
}

export interface RetryDecision {
  status: 'succeeded' | 'failed' | 'dead';
  /** When the next attempt runs (status failed). */
  nextAttemptAt: Date | null;
  /** The endpoint's failing-since after this attempt. */
  failingSince: Date | null;
  /** Set when the endpoint must be disabled now. */
  disableReason: string | null;
}

export function decideRetry(input: RetryPolicyInput): RetryDecision {
  const { outcome, now } = input;
  if (outcome.kind === 'success') return { status: 'succeeded', nextAttemptAt: null, failingSince: null, disableReason: null };
  const failingSince = input.failingSince ?? now;
  if (outcome.kind === 'gone') return { status: 'dead', nextAttemptAt: null, failingSince, disableReason: 'the endpoint answered 410 Gone' };
  const failingFor = now.getTime() - failingSince.getTime();
  if (failingFor >= input.disableAfterMs) {
    return { status: 'dead', nextAttemptAt: null, failingSince, disableReason: `the endpoint failed continuously for ${Math.round(failingFor / 1000)} s (limit ${Math.round(input.disableAfterMs / 1000)} s)` };
  }
  const scheduled = input.scheduleMs[input.attempt - 1];
  if (scheduled === undefined) return { status: 'dead', nextAttemptAt: null, failingSince, disableReason: null };
  const delay = outcome.retryAfterMs ?? scheduled;
  return { status: 'failed', nextAttemptAt: new Date(now.getTime() + delay), failingSince, disableReason: null };
}
