/**
 * A small regular-expression engine whose matching time is linear in the input, for patterns
 * that operators type into a group policy (`snapshot_pattern`) and for dataset globs.
 *
 * Why not `new RegExp(...).test`: V8 backtracks, and rejecting "nested quantifiers" alone does
 * not bound its cost. Measured on a 255-character name: `\d*\d*\d*x` takes 1.4 s, twenty
 * `(1|1)` groups 10 s, `1?1?…1?x` 26 s — per snapshot name. Here the pattern is parsed into a
 * small AST (a subset of JavaScript regex syntax, with the same meaning as `RegExp#test`),
 * compiled to a Thompson NFA, and run as a lazily built DFA: every input character costs at most
 * one pass over the NFA states, and after warm-up one array lookup.
 *
 * Supported: literals, `.`, classes `[...]`/`[^...]`, `\d \D \w \W \s \S`, the usual character
 * escapes, `^`, `$`, groups `(...)`, `(?:...)`, `(?<name>...)`, alternation, and the quantifiers
 * `* + ? {n} {n,} {n,m}` (greedy or lazy: irrelevant for a yes/no test).
 * Refused with a reason: backreferences, lookaround, `\b`/`\B`, unicode property escapes, unknown
 * letter escapes, ambiguous class ranges, and the shapes `checkSnapshotPattern` forbids on top.
 */

// ---------------------------------------------------------------------------------------------
// Character sets: sorted, merged, inclusive ranges of UTF-16 code units (the unit RegExp uses
// without the `u` flag).

type Range = readonly [number, number];
export type CharSet = readonly Range[];

const MAX_CODE_UNIT = 0xffff;

function normalizeSet(ranges: Range[]): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = merged[merged.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  return merged;
}

function complementSet(set: CharSet): CharSet {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of set) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_UNIT) out.push([next, MAX_CODE_UNIT]);
  return out;
}

function setContains(set: CharSet, code: number): boolean {
  for (const [lo, hi] of set) {
    if (code < lo) return false;
    if (code <= hi) return true;
  }
  return false;
}

function setsIntersect(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi] = a[i]!;
    const [blo, bhi] = b[j]!;
    if (alo <= bhi && blo <= ahi) return true;
    if (ahi < bhi) i++;
    else j++;
  }
  return false;
}

const single = (code: number): CharSet => [[code, code]];
const DIGIT: CharSet = [[0x30, 0x39]];
const WORD: CharSet = normalizeSet([[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]);
// ECMAScript WhiteSpace and LineTerminator code points (what `\s` matches).
const SPACE: CharSet = normalizeSet([
  [0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
  [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff],
]);
const LINE_TERMINATORS: CharSet = normalizeSet([[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]]);
const DOT: CharSet = complementSet(LINE_TERMINATORS);
const ANY: CharSet = [[0, MAX_CODE_UNIT]];

// ---------------------------------------------------------------------------------------------
// AST

export type RegexNode =
  | { kind: 'empty' }
  | { kind: 'chars'; set: CharSet }
  | { kind: 'start' }
  | { kind: 'end' }
  | { kind: 'seq'; items: RegexNode[] }
  | { kind: 'alt'; branches: RegexNode[] }
  | { kind: 'group'; body: RegexNode }
  | { kind: 'repeat'; body: RegexNode; min: number; max: number };

/** Small constructors, also used to build glob matchers without going through pattern text. */
export const rx = {
  empty: (): RegexNode => ({ kind: 'empty' }),
  char: (ch: string): RegexNode => ({ kind: 'chars', set: single(ch.charCodeAt(0)) }),
  anyChar: (): RegexNode => ({ kind: 'chars', set: ANY }),
  anyCharExcept: (ch: string): RegexNode => ({ kind: 'chars', set: complementSet(single(ch.charCodeAt(0))) }),
  start: (): RegexNode => ({ kind: 'start' }),
  end: (): RegexNode => ({ kind: 'end' }),
  seq: (...items: RegexNode[]): RegexNode => ({ kind: 'seq', items }),
  alt: (...branches: RegexNode[]): RegexNode => ({ kind: 'alt', branches }),
  star: (body: RegexNode): RegexNode => ({ kind: 'repeat', body, min: 0, max: Infinity }),
  optional: (body: RegexNode): RegexNode => ({ kind: 'repeat', body, min: 0, max: 1 }),
};

/** Largest `{n,m}` bound accepted: a ZFS name is at most 255 bytes, so more is never useful. */
export const MAX_REPEAT_COUNT = 255;
/** Cap on compiled NFA size (counted repeats copy their body). */
export const MAX_NFA_STATES = 20_000;

class PatternError extends Error {}

// ---------------------------------------------------------------------------------------------
// Parser (JavaScript syntax without flags)

const BRACE_QUANTIFIER = /\{([0-9]+)(?:(,)([0-9]*))?\}/y;
const HEX2 = /[0-9A-Fa-f]{2}/y;
const HEX4 = /[0-9A-Fa-f]{4}/y;

interface ClassAtom {
  /** A single code unit, or null when the atom is a set such as `\d`. */
  code: number | null;
  set: CharSet;
}

class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parse(): RegexNode {
    const node = this.alternation();
    if (this.pos < this.src.length) throw new PatternError(`unexpected '${this.src[this.pos]}' at ${this.pos}`);
    return node;
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  private alternation(): RegexNode {
    const branches = [this.sequence()];
    while (this.peek() === '|') {
      this.pos++;
      branches.push(this.sequence());
    }
    return branches.length === 1 ? branches[0]! : { kind: 'alt', branches };
  }

  private sequence(): RegexNode {
    const items: RegexNode[] = [];
    for (let c = this.peek(); c !== undefined && c !== '|' && c !== ')'; c = this.peek()) {
      items.push(this.term());
    }
    if (items.length === 0) return { kind: 'empty' };
    return items.length === 1 ? items[0]! : { kind: 'seq', items };
  }

  private term(): RegexNode {
    const atom = this.atom();
    const quantifier = this.quantifier();
    if (!quantifier) return atom;
    if (atom.kind === 'start' || atom.kind === 'end') throw new PatternError('an anchor cannot be repeated');
    return { kind: 'repeat', body: atom, ...quantifier };
  }

  private quantifier(): { min: number; max: number } | null {
    const c = this.peek();
    let q: { min: number; max: number } | null = null;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    if (q) this.pos++;
    else if (c === '{') {
      const brace = this.braceQuantifier();
      if (!brace) return null; // a `{` that is not a quantifier is a literal (read by atom())
      q = brace;
    } else return null;
    if (this.peek() === '?') this.pos++; // lazy: same yes/no answer
    if (q.min > MAX_REPEAT_COUNT || (q.max !== Infinity && q.max > MAX_REPEAT_COUNT)) {
      throw new PatternError(`repeat count above ${MAX_REPEAT_COUNT} (a ZFS name is at most 255 bytes)`);
    }
    if (q.max < q.min) throw new PatternError('numbers out of order in {} quantifier');
    return q;
  }

  /** Reads `{n}`, `{n,}` or `{n,m}` at the cursor; null (cursor unmoved) when it is not one. */
  private braceQuantifier(): { min: number; max: number } | null {
    BRACE_QUANTIFIER.lastIndex = this.pos;
    const m = BRACE_QUANTIFIER.exec(this.src);
    if (!m) return null;
    this.pos = BRACE_QUANTIFIER.lastIndex;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { min, max };
  }

  private atom(): RegexNode {
    const c = this.peek()!;
    switch (c) {
      case '^':
        this.pos++;
        return { kind: 'start' };
      case '$':
        this.pos++;
        return { kind: 'end' };
      case '.':
        this.pos++;
        return { kind: 'chars', set: DOT };
      case '(':
        return this.group();
      case '[':
        return this.charClass();
      case '\\':
        return this.atomEscape();
      case '*':
      case '+':
      case '?':
        throw new PatternError(`nothing to repeat before '${c}'`);
      case '{': {
        const start = this.pos;
        if (this.braceQuantifier()) {
          this.pos = start;
          throw new PatternError("nothing to repeat before '{'");
        }
        this.pos++;
        return { kind: 'chars', set: single(0x7b) };
      }
      default:
        this.pos++;
        return { kind: 'chars', set: single(c.charCodeAt(0)) };
    }
  }

  private group(): RegexNode {
    this.pos++; // (
    if (this.peek() === '?') {
      const next = this.peek(1);
      const after = this.peek(2);
      if (next === '=' || next === '!' || (next === '<' && (after === '=' || after === '!'))) {
        throw new PatternError('lookaround assertions are not allowed');
      }
      if (next === ':') this.pos += 2;
      else if (next === '<') {
        const close = this.src.indexOf('>', this.pos);
        if (close < 0) throw new PatternError('unterminated group name');
        this.pos = close + 1;
      } else throw new PatternError(`unsupported group '(?${next ?? ''}'`);
    }
    const body = this.alternation();
    if (this.peek() !== ')') throw new PatternError('unterminated group');
    this.pos++;
    return { kind: 'group', body };
  }

  private charClass(): RegexNode {
    this.pos++; // [
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.pos++;
    }
    const ranges: Range[] = [];
    while (this.peek() !== ']') {
      if (this.peek() === undefined) throw new PatternError('unterminated character class');
      const first = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        this.pos++; // -
        const last = this.classAtom();
        if (first.code === null || last.code === null) {
          throw new PatternError('a class escape such as \\d cannot bound a range; write \\- for a literal dash');
        }
        if (first.code > last.code) throw new PatternError('range out of order in character class');
        ranges.push([first.code, last.code]);
      } else {
        ranges.push(...first.set);
      }
    }
    this.pos++; // ]
    const set = normalizeSet(ranges);
    return { kind: 'chars', set: negated ? complementSet(set) : set };
  }

  private classAtom(): ClassAtom {
    const c = this.peek()!;
    if (c !== '\\') {
      this.pos++;
      return { code: c.charCodeAt(0), set: single(c.charCodeAt(0)) };
    }
    const e = this.peek(1);
    if (e === 'b') {
      this.pos += 2;
      return { code: 0x08, set: single(0x08) }; // backspace inside a class
    }
    if (e === '-') {
      this.pos += 2;
      return { code: 0x2d, set: single(0x2d) };
    }
    if (e !== undefined && /[1-9]/.test(e)) throw new PatternError('octal escapes are not supported');
    return this.characterEscape();
  }

  private atomEscape(): RegexNode {
    const e = this.peek(1);
    if (e === 'b' || e === 'B') throw new PatternError('word-boundary assertions (\\b, \\B) are not supported');
    if (e !== undefined && /[1-9]/.test(e)) throw new PatternError('backreferences are not allowed');
    if (e === 'k') throw new PatternError('named backreferences are not allowed');
    return { kind: 'chars', set: this.characterEscape().set };
  }

  /** Escapes that mean the same inside and outside a class. Cursor is on the backslash. */
  private characterEscape(): ClassAtom {
    const e = this.peek(1);
    if (e === undefined) throw new PatternError('\\ at end of pattern');
    this.pos += 2;
    const classes: Record<string, CharSet> = {
      d: DIGIT, D: complementSet(DIGIT), w: WORD, W: complementSet(WORD), s: SPACE, S: complementSet(SPACE),
    };
    if (e in classes) return { code: null, set: classes[e]! };
    const controls: Record<string, number> = { t: 0x09, n: 0x0a, v: 0x0b, f: 0x0c, r: 0x0d };
    if (e in controls) return this.codeAtom(controls[e]!);
    if (e === '0') {
      if (/[0-9]/.test(this.peek() ?? '')) throw new PatternError('octal escapes are not supported');
      return this.codeAtom(0);
    }
    if (e === 'c') {
      const letter = this.peek();
      if (letter === undefined || !/[A-Za-z]/.test(letter)) throw new PatternError('\\c must be followed by a letter');
      this.pos++;
      return this.codeAtom(letter.charCodeAt(0) % 32);
    }
    if (e === 'x' || e === 'u') {
      const hex = e === 'x' ? HEX2 : HEX4;
      hex.lastIndex = this.pos;
      const m = hex.exec(this.src);
      if (!m) throw new PatternError(`\\${e} must be followed by ${e === 'x' ? 2 : 4} hex digits`);
      this.pos = hex.lastIndex;
      return this.codeAtom(parseInt(m[0], 16));
    }
    if (e === 'p' || e === 'P') throw new PatternError('unicode property escapes are not supported');
    // Without the `u` flag JavaScript reads `\a` as `a`: surprising, so refused. Punctuation is literal.
    if (/[A-Za-z0-9]/.test(e)) throw new PatternError(`unknown escape \\${e}`);
    return this.codeAtom(e.charCodeAt(0));
  }

  private codeAtom(code: number): ClassAtom {
    return { code, set: single(code) };
  }
}

// ---------------------------------------------------------------------------------------------
// Shape analysis (what checkSnapshotPattern forbids on top of the syntax)

/** A quantifier that offers a choice (`*`, `+`, `?`, `{n,m}` with n < m); `{n}` offers none. */
function isVariableRepeat(node: RegexNode): boolean {
  return node.kind === 'repeat' && node.min !== node.max;
}

function someNode(node: RegexNode, test: (n: RegexNode) => boolean): boolean {
  if (test(node)) return true;
  switch (node.kind) {
    case 'seq':
      return node.items.some((n) => someNode(n, test));
    case 'alt':
      return node.branches.some((n) => someNode(n, test));
    case 'group':
    case 'repeat':
      return someNode(node.body, test);
    default:
      return false;
  }
}

/** The characters a node can start with, and whether it can match the empty string. */
function firstChars(node: RegexNode): { set: CharSet; nullable: boolean } {
  switch (node.kind) {
    case 'empty':
    case 'start':
    case 'end':
      return { set: [], nullable: true };
    case 'chars':
      return { set: node.set, nullable: false };
    case 'group':
      return firstChars(node.body);
    case 'repeat': {
      const inner = firstChars(node.body);
      return { set: inner.set, nullable: inner.nullable || node.min === 0 };
    }
    case 'seq': {
      const ranges: Range[] = [];
      for (const item of node.items) {
        const f = firstChars(item);
        ranges.push(...f.set);
        if (!f.nullable) return { set: normalizeSet(ranges), nullable: false };
      }
      return { set: normalizeSet(ranges), nullable: true };
    }
    case 'alt': {
      const parts = node.branches.map(firstChars);
      return { set: normalizeSet(parts.flatMap((p) => [...p.set])), nullable: parts.some((p) => p.nullable) };
    }
  }
}

/** An alternation whose branches could start the same way (or be empty): ambiguous when repeated. */
function hasOverlappingBranches(node: RegexNode): boolean {
  if (node.kind !== 'alt') return false;
  const firsts = node.branches.map(firstChars);
  if (firsts.some((f) => f.nullable)) return true;
  for (let i = 0; i < firsts.length; i++) {
    for (let j = i + 1; j < firsts.length; j++) {
      if (setsIntersect(firsts[i]!.set, firsts[j]!.set)) return true;
    }
  }
  return false;
}

/**
 * The classic catastrophic shapes, refused so patterns also stay safe if they are ever handed to
 * a backtracking engine: a repeated group that contains a variable quantifier (`(a+)+`, `(a*)?`)
 * or an alternation whose branches overlap (`(a|ab)*`). Fixed counts such as `(-\d{6})?` offer no
 * choice and stay allowed.
 */
function unsafeShape(node: RegexNode): string | null {
  let reason: string | null = null;
  someNode(node, (n) => {
    if (n.kind !== 'repeat' || n.body.kind !== 'group' || (n.min === 1 && n.max === 1)) return false;
    if (someNode(n.body.body, isVariableRepeat)) {
      reason = 'nested quantifier: a repeated group must not contain *, +, ? or {n,m}';
    } else if (someNode(n.body.body, hasOverlappingBranches)) {
      reason = 'a repeated group must not contain alternatives that can match the same text';
    }
    return reason !== null;
  });
  return reason;
}

// ---------------------------------------------------------------------------------------------
// NFA

type NfaState =
  | { op: 'char'; set: CharSet; out: number }
  | { op: 'split'; out: number; out2: number }
  | { op: 'start'; out: number }
  | { op: 'end'; out: number }
  | { op: 'match' };

class NfaBuilder {
  readonly states: NfaState[] = [];

  add(state: NfaState): number {
    if (this.states.length >= MAX_NFA_STATES) throw new PatternError('pattern too complex (too many states after expanding repeats)');
    this.states.push(state);
    return this.states.length - 1;
  }

  /** Compile `node` so that after it matches, matching continues at state `next`; returns its entry. */
  compile(node: RegexNode, next: number): number {
    switch (node.kind) {
      case 'empty':
        return next;
      case 'chars':
        return this.add({ op: 'char', set: node.set, out: next });
      case 'start':
        return this.add({ op: 'start', out: next });
      case 'end':
        return this.add({ op: 'end', out: next });
      case 'group':
        return this.compile(node.body, next);
      case 'seq':
        return node.items.reduceRight((cont, item) => this.compile(item, cont), next);
      case 'alt': {
        const entries = node.branches.map((b) => this.compile(b, next));
        return entries.reduceRight((rest, entry) => this.add({ op: 'split', out: entry, out2: rest }));
      }
      case 'repeat':
        return this.compileRepeat(node.body, node.min, node.max, next);
    }
  }

  private compileRepeat(body: RegexNode, min: number, max: number, next: number): number {
    let tail: number;
    if (max === Infinity) {
      // A loop: split into (body, back to the split) or onward.
      const split = this.add({ op: 'split', out: -1, out2: next });
      (this.states[split] as { out: number }).out = this.compile(body, split);
      tail = split;
    } else {
      // (max - min) optional copies, nested: x{0,2} = (x(x)?)?
      tail = next;
      for (let i = 0; i < max - min; i++) {
        tail = this.add({ op: 'split', out: this.compile(body, tail), out2: next });
      }
    }
    for (let i = 0; i < min; i++) tail = this.compile(body, tail);
    return tail;
  }
}

// ---------------------------------------------------------------------------------------------
// Lazy DFA

interface DfaState {
  /** NFA 'char' states alive after this point, sorted. */
  chars: number[];
  /** NFA 'end' assertions reached: they pass only if the input ends here. */
  ends: number[];
  matched: boolean;
  atStart: boolean;
  matchesAtEnd: boolean | null;
  ascii: (DfaState | undefined)[];
  other: Map<number, DfaState>;
}

/** Bound on cached DFA states; the cache is dropped and rebuilt on demand beyond it. */
const MAX_DFA_STATES = 2_000;

export interface SafeMatcher {
  /** Same answer as `new RegExp(pattern).test(input)`, in time linear in `input`. */
  test(input: string): boolean;
}

class LazyDfa implements SafeMatcher {
  private readonly mark: Int32Array;
  private generation = 0;
  private cache = new Map<string, DfaState>();
  private readonly initial: DfaState;

  constructor(private readonly states: NfaState[], private readonly entry: number) {
    this.mark = new Int32Array(states.length);
    this.initial = this.makeState([entry], true);
  }

  test(input: string): boolean {
    let state = this.initial;
    for (let i = 0; i < input.length; i++) {
      if (state.matched) return true;
      state = this.step(state, input.charCodeAt(i));
    }
    return state.matched || this.matchesAtEnd(state);
  }

  private step(state: DfaState, code: number): DfaState {
    const cached = code < 128 ? state.ascii[code] : state.other.get(code);
    if (cached) return cached;
    const seeds: number[] = [];
    for (const id of state.chars) {
      const s = this.states[id] as { set: CharSet; out: number };
      if (setContains(s.set, code)) seeds.push(s.out);
    }
    seeds.push(this.entry); // unanchored search: a match may also start after this character
    const next = this.lookup(seeds);
    if (code < 128) state.ascii[code] = next;
    else state.other.set(code, next);
    return next;
  }

  private lookup(seeds: number[]): DfaState {
    const fresh = this.makeState(seeds, false);
    const key = `${fresh.chars.join(',')}|${fresh.ends.join(',')}|${fresh.matched ? 1 : 0}`;
    const known = this.cache.get(key);
    if (known) return known;
    if (this.cache.size >= MAX_DFA_STATES) this.cache = new Map();
    this.cache.set(key, fresh);
    return fresh;
  }

  private makeState(seeds: number[], atStart: boolean): DfaState {
    const { chars, ends, matched } = this.closure(seeds, atStart, false);
    return { chars, ends, matched, atStart, matchesAtEnd: null, ascii: new Array(128), other: new Map() };
  }

  private matchesAtEnd(state: DfaState): boolean {
    if (state.matchesAtEnd === null) {
      const seeds = state.ends.map((id) => (this.states[id] as { out: number }).out);
      state.matchesAtEnd = this.closure(seeds, state.atStart, true).matched;
    }
    return state.matchesAtEnd;
  }

  /** Follow every epsilon edge from `seeds`; anchors pass only where they hold. */
  private closure(seeds: number[], atStart: boolean, atEnd: boolean): { chars: number[]; ends: number[]; matched: boolean } {
    const gen = ++this.generation;
    const chars: number[] = [];
    const ends: number[] = [];
    let matched = false;
    const stack = [...seeds];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (this.mark[id] === gen) continue;
      this.mark[id] = gen;
      const s = this.states[id]!;
      switch (s.op) {
        case 'char':
          chars.push(id);
          break;
        case 'match':
          matched = true;
          break;
        case 'split':
          stack.push(s.out2, s.out);
          break;
        case 'start':
          if (atStart) stack.push(s.out);
          break;
        case 'end':
          if (atEnd) stack.push(s.out);
          else ends.push(id);
          break;
      }
    }
    chars.sort((a, b) => a - b);
    ends.sort((a, b) => a - b);
    return { chars, ends, matched };
  }
}

/** Compile an AST (already judged acceptable) into a linear-time matcher. Throws on oversize. */
export function compileRegexNode(node: RegexNode): SafeMatcher {
  const builder = new NfaBuilder();
  const match = builder.add({ op: 'match' });
  const entry = builder.compile(node, match);
  return new LazyDfa(builder.states, entry);
}

export type SafePatternResult = { ok: true; matcher: SafeMatcher } | { ok: false; reason: string };

/**
 * Parse, judge and compile a pattern written in JavaScript regex syntax (no flags).
 * `ok: false` carries a reason an operator can act on.
 */
export function compileSafePattern(pattern: string): SafePatternResult {
  try {
    new RegExp(pattern); // the authoritative syntax check, with the engine's own message
  } catch (err) {
    return { ok: false, reason: `invalid regular expression: ${(err as Error).message}` };
  }
  try {
    const node = new Parser(pattern).parse();
    const unsafe = unsafeShape(node);
    if (unsafe !== null) return { ok: false, reason: unsafe };
    return { ok: true, matcher: compileRegexNode(node) };
  } catch (err) {
    if (err instanceof PatternError) return { ok: false, reason: err.message };
    throw err;
  }
}
