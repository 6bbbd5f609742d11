import { createHash } from 'node:crypto';
import type { ReconcileDataset } from './schemas/inventory.schema.js';

/**
 * The content hash of one dataset as a host reported it: its snapshot and bookmark rows in job
 * form and its resume token. The API computes it while accepting a report and compares it with
 * the hash of the newest accepted inventory (a dataset that did not change travels as a reference,
 * not as rows); the worker stores it and skips a dataset whose hash equals the stored one. One
 * function, so both sides always agree.
 */
export function datasetContentHash(d: Pick<ReconcileDataset, 'receive_resume_token' | 'snapshots' | 'bookmarks'>): string {
  // Native JSON serialisation of the compact rows is the cheapest canonical form there is.
  return createHash('sha256').update(JSON.stringify([d.receive_resume_token ?? null, d.snapshots, d.bookmarks])).digest('hex');
}
