import { ZfsError } from './state.js';

export interface Parsed {
  /** Flag → true, option → its values in order. */
  flags: Set<string>;
  values: Map<string, string[]>;
  operands: string[];
}

/**
 * getopt(3) as glibc does it for zfs: `-Hp` bundles flags, `-o x` and `-ox` both give a value,
 * options may follow operands (permutation), `--` ends options. An unknown option is a usage
 * error (exit 2), as in zfs.
 */
export function getopt(args: readonly string[], flags: string, withValue: string, usage: string): Parsed {
  const out: Parsed = { flags: new Set(), values: new Map(), operands: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.operands.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.operands.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (flags.includes(c)) {
        out.flags.add(c);
      } else if (withValue.includes(c)) {
        let v = a.slice(j + 1);
        if (v === '') {
          if (i + 1 >= args.length) throw new ZfsError(`missing argument for '${c}' option\n${usage}`, 2);
          v = args[++i]!;
        }
        out.values.set(c, [...(out.values.get(c) ?? []), v]);
        break;
      } else {
        throw new ZfsError(`invalid option '${c}'\n${usage}`, 2);
      }
    }
  }
  return out;
}
