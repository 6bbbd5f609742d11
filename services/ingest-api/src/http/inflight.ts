import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { unavailable } from './problem.js';

/**
 * A bound on the request bytes one API process holds at once (`inflight_body_limit_bytes`).
 * A parsed inventory costs many times its bytes in memory; without a bound, enough large reports
 * arriving together would grow the process until it is killed. A request over the bound waits
 * (its body unread, in the kernel's socket buffer, not in the process) until earlier ones finish;
 * one that cannot be admitted within `maxWaitMs` is answered 503 with Retry-After — a retry a
 * host's client makes anyway — and the process stays within its memory. One request is always
 * admitted when nothing else is in flight, so a single body larger than the bound (within the
 * route's own limit) still gets through.
 */
export class InflightBytes {
  private held = 0;
  private requests = 0;
  private readonly waiters: Array<{ size: number; admit: () => void }> = [];

  constructor(
    private readonly limitBytes: number,
    private readonly maxWaitMs = 5000,
  ) {}

  get bytes(): number {
    return this.held;
  }

  private fits(size: number): boolean {
    return this.requests === 0 || this.held + size <= this.limitBytes;
  }

  private take(size: number): () => void {
    this.held += size;
    this.requests++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= size;
      this.requests--;
      // First come, first served: the head of the line goes first even if a smaller one would fit.
      while (this.waiters.length && this.fits(this.waiters[0]!.size)) this.waiters.shift()!.admit();
    };
  }

  middleware(unknownLengthBytes = 1024 * 1024): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      const declared = Number(req.headers['content-length']);
      const size = Number.isFinite(declared) && declared >= 0 ? declared : unknownLengthBytes;
      const admit = () => {
        const release = this.take(size);
        res.once('finish', release);
        res.once('close', release);
        next();
      };
      if (this.waiters.length === 0 && this.fits(size)) return admit();
      const waiter = { size, admit: () => {
        clearTimeout(timer);
        res.off('close', gone);
        admit();
      } };
      const drop = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      // The client gave up while waiting: nothing to answer.
      const gone = () => {
        clearTimeout(timer);
        drop();
      };
      const timer = setTimeout(() => {
        drop();
        res.off('close', gone);
        res.setHeader('Retry-After', '1');
        // The body is read and dropped as it arrives (no memory held), so the client is not cut
        // off mid-upload and its connection stays usable.
        req.resume();
        next(unavailable(`this API process is busy with ${Math.round(this.held / 1048576)} MiB of reports; retry after 1 second`, { retry_after_seconds: 1 }));
      }, this.maxWaitMs);
      res.once('close', gone);
      this.waiters.push(waiter);
    };
  }
}
