import net from 'node:net';

/**
 * A deliberately lean HTTP/1.1 keep-alive client for load generation: one socket per lane, one
 * request in flight per socket, requests pre-encoded, responses parsed only as far as status line
 * and Content-Length. On a 2-core machine a general-purpose client would spend more CPU than the
 * server under test; this one leaves the cores to the server.
 */
export interface LeanResult {
  status: number;
  ms: number;
  body: string;
}

export class LeanConnection {
  private socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private pending: { resolve: (r: LeanResult) => void; reject: (e: Error) => void; started: number } | null = null;
  private closed = false;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('connection closed')));
  }

  private fail(err: Error) {
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  private onData(chunk: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.pending) return;
    const head = this.buf.toString('latin1', 0, end);
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const length = m ? Number(m[1]) : 0;
    if (this.buf.length < end + 4 + length) return;
    const status = Number(head.slice(9, 12));
    const body = this.buf.toString('utf8', end + 4, end + 4 + length);
    this.buf = this.buf.subarray(end + 4 + length);
    const p = this.pending;
    this.pending = null;
    p.resolve({ status, ms: performance.now() - p.started, body });
  }

  send(request: Buffer): Promise<LeanResult> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, started: performance.now() };
      this.socket.write(request);
    });
  }

  close() {
    this.closed = true;
    this.socket.destroy();
  }
}

/** Encode one request (keep-alive). */
export function encodeRequest(method: string, host: string, path: string, headers: Record<string, string>, body?: string): Buffer {
  const b = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body !== undefined) head += `Content-Length: ${b.length}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`), b]);
}
