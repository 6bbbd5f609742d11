import http from 'node:http';

export interface HttpResult {
  status: number;
  text: string;
  /** From the first byte written to the last byte of the answer read (all attempts, for `send`). */
  ms: number;
  /** The Location header (the batch endpoint names its report there). */
  location?: string;
  /** Retry-After of a 503, seconds. */
  retryAfter?: number;
  /** 503s (load shed by the API's in-flight bound) retried before this answer. */
  shed?: number;
}

/** A small keep-alive HTTP client: the benchmark client must cost as little CPU as it can. */
export class BenchHttp {
  private readonly agent: http.Agent;

  constructor(
    private readonly base: URL,
    maxSockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: string, path: string, opts: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    const body = typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    if (body) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(body.length);
    }
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.base.hostname, port: this.base.port, method, path: `${this.base.pathname.replace(/\/$/, '')}${path}`, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started, ...(res.headers['retry-after'] ? { retryAfter: Number(res.headers['retry-after']) } : {}), ...(res.headers.location ? { location: res.headers.location } : {}) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** As a host's client does: a 503 with Retry-After (the API shedding load) is retried after that wait. */
  async send(method: string, path: string, opts: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    const started = performance.now();
    let shed = 0;
    for (;;) {
      const r = await this.request(method, path, opts);
      if (r.status !== 503 || r.retryAfter === undefined || shed >= 100) return { ...r, ms: performance.now() - started, shed };
      shed++;
      await new Promise((resolve) => setTimeout(resolve, r.retryAfter! * 1000));
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Run `work` over `items` with at most `limit` in flight; results in item order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await work(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}
