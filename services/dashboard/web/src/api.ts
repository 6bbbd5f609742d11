/**
 * The dashboard talks to the same public API as every other client. The operator's token lives in
 * sessionStorage (this tab only, gone when it closes), travels only in the Authorization header —
 * never in a URL — and is dropped as soon as the API answers 401.
 */
const TOKEN_KEY = 'zfs-sync.token';
export const API = '/api/v1';

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** An RFC 9457 problem from the API, kept whole so a page can show what it says. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Record<string, any>,
  ) {
    super(typeof problem.detail === 'string' ? problem.detail : `HTTP ${status}`);
  }
}

let onUnauthorized: () => void = () => {};
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export interface ApiResponse<T> {
  body: T;
  headers: Headers;
}

export async function request<T = any>(method: string, path: string, body?: unknown, token = storedToken()): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(API + path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store' });
  const text = await res.text();
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text.slice(0, 200) };
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, parsed ?? {});
  }
  return { body: parsed as T, headers: res.headers };
}

export const get = <T = any>(path: string) => request<T>('GET', path).then((r) => r.body);

/** A page of an array endpoint, with the total from X-Total-Count. */
export async function getPage<T = any>(path: string): Promise<{ items: T[]; total: number }> {
  const r = await request<T[]>('GET', path);
  return { items: r.body, total: Number(r.headers.get('x-total-count') ?? r.body.length) };
}

/** Build a query string from the defined values only. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
