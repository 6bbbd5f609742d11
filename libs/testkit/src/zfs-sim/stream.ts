/**
 * The simulated send stream. Like a real one it is a header followed by one record per snapshot
 * (several for `-I`), each carrying the snapshot's guid and creation time and a payload of the
 * snapshot's size, so a cut stream is detectably incomplete and a resumed one continues at a byte
 * offset. The format is private to the simulator: only `zfs send` writes it and only `zfs
 * receive` reads it.
 */
import type { Readable, Writable } from 'node:stream';

export const STREAM_MAGIC = 'ZFSSIM-STREAM-1';

export interface StreamHeader {
  kind: 'full' | 'incremental' | 'resume';
  /** The sender's full snapshot name of the last snapshot in the stream. */
  toName: string;
  toGuid: string;
  /** Incremental source (snapshot or bookmark) guid; null for a full stream. */
  fromGuid: string | null;
  compressed: boolean;
  raw: boolean;
  records: number;
  /** For a resume stream: the byte offset of the first record's payload. */
  resumeOffset?: number;
}

export interface StreamRecord {
  name: string;
  guid: string;
  creation: number;
  written: number;
  referenced: number;
  fromGuid: string | null;
  /** Total payload of the snapshot (what a resume token counts against). */
  total: number;
  /** Payload bytes that follow in this stream (total − resume offset). */
  bytes: number;
  /** The sender's full name of this snapshot. */
  sourceName: string;
}

/** Payload size of a snapshot in a stream: compressed streams carry about half. */
export function payloadBytes(written: number, compressed: boolean): number {
  const raw = Math.max(1024, written);
  return compressed ? Math.ceil(raw / 2) : raw;
}

const FILL = Buffer.alloc(65_536, 'zfs-sim-payload ');

/** Writes with backpressure and an optional rate limit; rejects when the reader went away (EPIPE). */
export class StreamWriter {
  written = 0;
  #started = Date.now();
  #failed: Error | null = null;
  constructor(
    private readonly out: Writable,
    private readonly bytesPerSecond: number | null,
    private readonly onProgress: (bytes: number) => void = () => {},
  ) {
    out.on('error', (err) => {
      this.#failed = err;
    });
  }

  async write(chunk: Buffer | string): Promise<void> {
    if (this.#failed) throw this.#failed;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const ok = this.out.write(buf);
    this.written += buf.length;
    this.onProgress(this.written);
    if (!ok) {
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          this.out.off('drain', done);
          this.out.off('error', fail);
          this.out.off('close', done);
          resolve();
        };
        const fail = (err: Error) => {
          this.out.off('drain', done);
          this.out.off('close', done);
          reject(err);
        };
        this.out.once('drain', done);
        this.out.once('error', fail);
        this.out.once('close', done);
      });
    }
    if (this.#failed) throw this.#failed;
    if (this.bytesPerSecond) {
      const due = this.#started + (this.written / this.bytesPerSecond) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  async payload(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const take = Math.min(left, this.bytesPerSecond ? Math.max(1024, Math.floor(this.bytesPerSecond / 20)) : FILL.length);
      await this.write(FILL.subarray(0, Math.min(take, FILL.length)));
      left -= Math.min(take, FILL.length);
    }
  }
}

export async function writeHeader(w: StreamWriter, header: StreamHeader): Promise<void> {
  await w.write(`${STREAM_MAGIC}\n${JSON.stringify(header)}\n`);
}

export async function writeRecord(w: StreamWriter, record: StreamRecord): Promise<void> {
  await w.write(`SNAP ${JSON.stringify(record)}\n`);
  await w.payload(record.bytes);
  await w.write('\n');
}

export async function writeEnd(w: StreamWriter): Promise<void> {
  await w.write('END\n');
}

/** Pulls lines and counted payloads from a byte stream; reports EOF instead of throwing. */
export class StreamReader {
  #buf: Buffer = Buffer.alloc(0);
  #iter: AsyncIterator<Buffer>;
  #eof = false;
  total = 0;
  constructor(input: Readable) {
    this.#iter = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    try {
      const { value, done } = await this.#iter.next();
      if (done) {
        this.#eof = true;
        return false;
      }
      this.total += value.length;
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, value]) : value;
      return true;
    } catch {
      this.#eof = true; // a reset connection reads as the end of the stream
      return false;
    }
  }

  /** The next line without its newline, or null at EOF before a complete line. */
  async line(maxBytes = 1 << 20): Promise<string | null> {
    for (;;) {
      const nl = this.#buf.indexOf(10);
      if (nl >= 0) {
        const text = this.#buf.subarray(0, nl).toString('utf8');
        this.#buf = this.#buf.subarray(nl + 1);
        return text;
      }
      if (this.#buf.length > maxBytes) return null;
      if (!(await this.#fill())) return null;
    }
  }

  /** Consume up to n payload bytes; returns how many were there before EOF. */
  async skip(n: number, onProgress: (consumed: number) => void = () => {}): Promise<number> {
    let consumed = 0;
    while (consumed < n) {
      if (this.#buf.length === 0 && !(await this.#fill())) break;
      const take = Math.min(n - consumed, this.#buf.length);
      this.#buf = this.#buf.subarray(take);
      consumed += take;
      onProgress(consumed);
    }
    return consumed;
  }
}

// ---- resume tokens ----

export interface ResumeTokenContent {
  fromGuid: string | null;
  toGuid: string;
  toName: string;
  bytes: number;
  compressed: boolean;
  raw: boolean;
}

function checksum(data: Buffer): string {
  let h = 0x811c9dc5;
  for (const b of data) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16);
}

/** `1-<checksum>-<length>-<hex payload>`: the shape of a real token (version, checksum, size, packed nvlist). */
export function encodeResumeToken(content: ResumeTokenContent): string {
  const payload = Buffer.from(JSON.stringify(content));
  return `1-${checksum(payload)}-${payload.length.toString(16)}-${payload.toString('hex')}`;
}

export function decodeResumeToken(token: string): ResumeTokenContent | null {
  const m = /^1-([0-9a-f]+)-([0-9a-f]+)-([0-9a-f]+)$/.exec(token);
  if (!m) return null;
  const payload = Buffer.from(m[3]!, 'hex');
  if (payload.length !== parseInt(m[2]!, 16) || checksum(payload) !== m[1]) return null;
  try {
    return JSON.parse(payload.toString('utf8')) as ResumeTokenContent;
  } catch {
    return null;
  }
}
