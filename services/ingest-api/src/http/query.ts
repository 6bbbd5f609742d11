import type { Request, Response } from 'express';
import { badRequest } from './problem.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Query parameters of the list and view routes, checked one by one: an unknown name, a repeated
 * value or a value out of range is a 400 naming the parameter, never silently ignored.
 */
export function queryParams(req: Request, allowed: readonly string[]) {
  for (const key of Object.keys(req.query)) {
    if (!allowed.includes(key)) throw badRequest(`unknown query parameter "${key}" (this route takes: ${allowed.join(', ')})`, { field: key });
  }
  const single = (name: string): string | undefined => {
    const v = req.query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw badRequest(`${name} must be given once, as a plain value`, { field: name });
    return v;
  };
  return {
    single,
    has: (name: string) => req.query[name] !== undefined,
    int(name: string, min: number, max: number, dflt: number): number {
      const v = single(name);
      if (v === undefined) return dflt;
      const n = /^\d{1,10}$/.test(v) ? Number(v) : NaN;
      if (!(n >= min && n <= max)) throw badRequest(`${name} must be an integer from ${min} to ${max}`, { field: name });
      return n;
    },
    bool(name: string): boolean {
      const v = single(name);
      if (v === undefined || v === '' || v === 'false' || v === '0') return false;
      if (v === 'true' || v === '1') return true;
      throw badRequest(`${name} must be true or false`, { field: name });
    },
    text(name: string, maxLength = 200): string | null {
      const v = single(name);
      if (v === undefined || v === '') return null;
      if (v.length > maxLength || /[\u0000-\u001f\u007f]/.test(v)) throw badRequest(`${name} must be at most ${maxLength} printable characters`, { field: name });
      return v;
    },
    oneOf<T extends string>(name: string, values: readonly T[], dflt: T | null): T | null {
      const v = single(name);
      if (v === undefined || v === '') return dflt;
      if (!(values as readonly string[]).includes(v)) throw badRequest(`${name} must be one of ${values.join(', ')}`, { field: name });
      return v as T;
    },
    /** A comma-separated list of allowed values (`verdict=behind,diverged`); null when absent. */
    listOf<T extends string>(name: string, values: readonly T[]): T[] | null {
      const v = single(name);
      if (v === undefined || v === '') return null;
      const items = v.split(',');
      for (const item of items) if (!(values as readonly string[]).includes(item)) throw badRequest(`${name} must be a comma-separated list of ${values.join(', ')}`, { field: name });
      return [...new Set(items)] as T[];
    },
    uuid(name: string, required = false): string | null {
      const v = single(name);
      if (v === undefined || v === '') {
        if (required) throw badRequest(`${name} is required`, { field: name });
        return null;
      }
      if (!UUID.test(v)) throw badRequest(`${name} must be a UUID`, { field: name });
      return v.toLowerCase();
    },
    /** limit (1..max, default `dflt`) and offset (0..1e6). */
    page(dflt = 50, max = 500): { limit: number; offset: number } {
      return { limit: this.int('limit', 1, max, dflt), offset: this.int('offset', 0, 1_000_000, 0) };
    },
  };
}

/** The total behind a paged array answer, for clients that page (X-Total-Count). */
export function setTotal(res: Response, total: number): void {
  res.setHeader('X-Total-Count', String(Math.max(0, total)));
}
