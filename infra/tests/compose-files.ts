import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';

/** Compose's `!reset` / `!override` merge tags, kept as markers. */
const composeTags: Tags = [
  { tag: '!override', collection: 'seq', resolve: (v: unknown) => Object.assign(v as object, { __override: true }) } as never,
  { tag: '!override', collection: 'map', resolve: (v: unknown) => Object.assign(v as object, { __override: true }) } as never,
  { tag: '!reset', resolve: () => null } as never,
];

/** A compose file as docker compose reads it: YAML with merge keys (`<<`) resolved; `!override` marked. */
export function readComposeRaw(path: URL): Record<string, any> {
  return parse(readFileSync(path, 'utf8'), { merge: true, customTags: composeTags, maxAliasCount: -1 });
}
export const readCompose = (path: URL): Record<string, any> => toPlain(readComposeRaw(path));

/** Drop the tag markers, keeping plain JSON (what the schema sees). */
export function toPlain(v: unknown): any {
  if (Array.isArray(v)) return v.map(toPlain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '__override').map(([k, x]) => [k, toPlain(x)]));
  return v;
}

/** Merge an override file onto a base file (compose: maps merge, `!override` and scalars replace, lists of ports/volumes/… add up). */
export function mergeCompose(base: any, override: any): any {
  if (override?.__override) return override;
  if (Array.isArray(base) && Array.isArray(override)) return [...base, ...override.filter((x: unknown) => !base.some((b: unknown) => JSON.stringify(b) === JSON.stringify(x)))];
  if (base && override && typeof base === 'object' && typeof override === 'object' && !Array.isArray(base)) {
    const out: any = { ...base };
    for (const [k, v] of Object.entries(override)) out[k] = k in base ? mergeCompose(base[k], v) : v;
    return out;
  }
  return override;
}

const VAR = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Every variable a compose document interpolates, with whether it has a default or is required. */
export function variables(doc: unknown, out = new Map<string, { required: boolean; hasDefault: boolean }>()) {
  if (typeof doc === 'string') {
    for (const m of doc.matchAll(VAR)) {
      const name = m[1] ?? m[4];
      if (!name) continue;
      const prev = out.get(name) ?? { required: false, hasDefault: false };
      out.set(name, { required: prev.required || (m[2]?.includes('?') ?? false), hasDefault: prev.hasDefault || (m[2]?.includes('-') ?? false) });
      if (m[3]) variables(m[3], out);
    }
  } else if (Array.isArray(doc)) doc.forEach((d) => variables(d, out));
  else if (doc && typeof doc === 'object') Object.entries(doc).forEach(([k, v]) => (variables(k, out), variables(v, out)));
  return out;
}

/** Interpolate as docker compose does (${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+x}, $VAR, $$). */
export function interpolate(doc: unknown, env: Record<string, string>): any {
  if (typeof doc === 'string') {
    return doc.replace(VAR, (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare)!;
      const value = env[name];
      const unsetOrEmpty = value === undefined || (op?.startsWith(':') && value === '');
      switch (op) {
        case ':-':
        case '-':
          return unsetOrEmpty ? interpolate(arg ?? '', env) : value!;
        case ':?':
        case '?':
          if (unsetOrEmpty) throw new Error(`required variable ${name} is not set: ${arg}`);
          return value!;
        case ':+':
        case '+':
          return unsetOrEmpty ? '' : interpolate(arg ?? '', env);
        default:
          return value ?? '';
      }
    });
  }
  if (Array.isArray(doc)) return doc.map((d) => interpolate(d, env));
  if (doc && typeof doc === 'object') return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, interpolate(v, env)]));
  return doc;
}

/** KEY=value lines of an env file (comments and blank lines skipped). */
export function readEnvFile(path: URL): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
