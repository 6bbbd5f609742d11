/**
 * Log lines on stderr (stdout is for what a command prints: status tables, dry-run commands), as
 * text for people and cron mail, or JSON for log collectors. On a terminal a progress line is
 * redrawn in place and cleared before any other line.
 */
const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
export type Level = keyof typeof LEVELS;

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Redraw the progress line (a terminal only; nothing otherwise). */
  progress(text: string): void;
  /** Remove the progress line. */
  clearProgress(): void;
}

/** Values that must never reach a log line. */
const SECRET_KEYS = /key|token|secret|password|authorization/i;

function render(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

export function createLogger(opts: { level: Level; format: 'text' | 'json'; stream?: NodeJS.WriteStream }): Logger {
  const out = opts.stream ?? process.stderr;
  const tty = !!out.isTTY && opts.format === 'text';
  let progressShown = false;
  const clear = () => {
    if (progressShown) {
      out.write('\r\x1b[2K');
      progressShown = false;
    }
  };
  const emit = (level: Level, msg: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[level] > LEVELS[opts.level]) return;
    const safe = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, SECRET_KEYS.test(k) ? '[redacted]' : v]));
    clear();
    if (opts.format === 'json') {
      out.write(`${JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, msg, ...safe })}\n`);
      return;
    }
    const extra = Object.entries(safe)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => ` ${k}=${render(v)}`)
      .join('');
    const stamp = tty ? '' : `${new Date().toISOString()} `;
    out.write(`${stamp}zfs-sync-agent[${process.pid}] ${level.toUpperCase()} ${msg}${extra}\n`);
  };
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    progress: (text) => {
      if (!tty) return;
      const width = Math.max(20, (out.columns ?? 100) - 1);
      out.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      progressShown = true;
    },
    clearProgress: clear,
  };
}

/** Bytes for people: 1.5 MiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** Seconds for people: 3d 4h, 2h 5m, 4m 10s, 12s. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
