import type { FromSchema } from 'json-schema-to-ts';
/**
 * Snapshot inventory: what hosts send (API bodies) and what the API hands the reconcile worker
 * (job payload). uint64 values (guid, createtxg, used, referenced) are decimal strings; a JSON
 * number is accepted only while it is exact (≤ 2^53 − 1): a larger one already lost precision
 * in the sender's JSON encoder and is refused.
 */

export const MAX_SAFE = 9_007_199_254_740_991;
/** Canonical unsigned decimal of at most 20 digits; the ≤ 2^64 − 1 bound is checked in code. */
export const UINT64_PATTERN = '^(0|[1-9][0-9]{0,19})$';

// One schema for both forms, without anyOf (it validates a million values per large report):
// pattern/maxLength apply only to strings, minimum/maximum only to numbers.
const uint64 = {
  type: ['string', 'integer'],
  maxLength: 20,
  pattern: UINT64_PATTERN,
  minimum: 0,
  maximum: MAX_SAFE,
  description: 'must be an unsigned 64-bit integer: a decimal string, or a JSON number up to 2^53 − 1',
} as const;

/** Short snapshot/bookmark name; the full-name rules (length with the dataset) are checked in code. */
const shortName = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_.: %-]+$', description: 'must be a ZFS snapshot name: ASCII letters, digits, "-", "_", ".", ":", "%" or space' } as const;
const poolName = { type: 'string', minLength: 1, maxLength: 239 } as const;
const datasetPath = { type: 'string', minLength: 0, maxLength: 255 } as const;
/** What a creation time may look like, said whenever one is refused (an epoch in a string is a common mistake). */
const CREATION_FORMS = 'must be Unix seconds as a JSON integer (e.g. 1700000000) or an ISO 8601 date-time string (e.g. 2023-11-14T22:13:20Z); a number inside a string is not accepted';
/** Unix seconds, or an ISO 8601 date-time. */
const creation = { type: ['integer', 'string'], minimum: 0, maximum: 253_402_300_799, format: 'date-time', maxLength: 40, description: CREATION_FORMS } as const;

export const REPORT_ID_PATTERN = '^[A-Za-z0-9._-]{1,128}$';

export const MAX_INVENTORY_DATASETS = 100_000;
export const MAX_INVENTORY_ITEMS = 1_000_000;
export const MAX_BATCH_ITEMS = 50_000;

export const inventoryReportSchema = {
  $id: 'InventoryReport',
  type: 'object',
  additionalProperties: false,
  required: ['report_id', 'generation', 'complete', 'datasets'],
  properties: {
    report_id: { type: 'string', pattern: REPORT_ID_PATTERN, description: 'must be 1–128 characters of letters, digits, ".", "_" or "-"' },
    generation: { type: 'integer', minimum: 0, maximum: MAX_SAFE },
    complete: { type: 'boolean' },
    chunk: {
      type: 'object',
      additionalProperties: false,
      required: ['index', 'count'],
      properties: { index: { type: 'integer', minimum: 0, maximum: 9999 }, count: { type: 'integer', minimum: 1, maximum: 10_000 } },
    },
    datasets: {
      type: 'array',
      maxItems: MAX_INVENTORY_DATASETS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['pool', 'dataset'],
        properties: {
          pool: poolName,
          dataset: datasetPath,
          receive_resume_token: { anyOf: [{ type: 'string', minLength: 1, maxLength: 8192, pattern: '^[A-Za-z0-9-]+$', description: 'must be a ZFS receive resume token (letters, digits and "-")' }, { type: 'null' }] },
          snapshots: {
            type: 'array',
            maxItems: MAX_INVENTORY_ITEMS,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'guid', 'createtxg', 'creation'],
              properties: { name: shortName, guid: uint64, createtxg: uint64, creation, used: uint64, referenced: uint64, userrefs: { type: 'integer', minimum: 0, maximum: 2_147_483_647 } },
            },
          },
          bookmarks: {
            type: 'array',
            maxItems: MAX_INVENTORY_ITEMS,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'guid', 'createtxg', 'creation'],
              properties: { name: shortName, guid: uint64, createtxg: uint64, creation },
            },
          },
        },
      },
    },
  },
} as const;

export type InventoryReportBody = FromSchema<typeof inventoryReportSchema>;

/** The original zfs_sync single-snapshot form (POST /snapshots, and each item of /snapshots/batch). */
const originalSnapshotItem = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'pool', 'dataset', 'timestamp', 'system_id'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    pool: poolName,
    dataset: datasetPath,
    timestamp: { type: ['string', 'integer'], format: 'date-time', maxLength: 40, minimum: 0, maximum: 253_402_300_799, description: CREATION_FORMS },
    size: uint64,
    used: uint64,
    referenced: uint64,
    guid: uint64,
    createtxg: uint64,
    extra_metadata: { type: 'object', maxProperties: 64, maxJsonBytes: 4096 },
    system_id: { type: 'string', format: 'uuid', maxLength: 36 },
  },
} as const;

export const originalSnapshotSchema = { $id: 'OriginalSnapshot', ...originalSnapshotItem } as const;
export const originalSnapshotBatchSchema = { $id: 'OriginalSnapshotBatch', type: 'array', minItems: 1, maxItems: MAX_BATCH_ITEMS, items: originalSnapshotItem } as const;

export type OriginalSnapshotItem = FromSchema<typeof originalSnapshotSchema>;
export type OriginalSnapshotBatch = FromSchema<typeof originalSnapshotBatchSchema>;

// ---- the reconcile job payload (internal; compact rows keep Redis memory and parse time low) ----

/** [name, guid, createtxg, creation (unix s), used, referenced, userrefs] */
export type SnapshotRow = [string, string | null, string | null, number, string | null, string | null, number | null];
/** [name, guid, createtxg, creation (unix s)] */
export type BookmarkRow = [string, string | null, string | null, number];

export interface ReconcileDataset {
  pool: string;
  dataset: string;
  /** Absent: keep what is stored (original batch clients know nothing of tokens). */
  receive_resume_token?: string | null;
  snapshots: SnapshotRow[];
  bookmarks: BookmarkRow[];
  /** datasetContentHash of this dataset, computed by the API (the worker computes it when absent). */
  hash?: string;
}

/**
 * A dataset of a full inventory whose content hash equals the one of the newest inventory the API
 * accepted for the system: only its identity and hash travel through the queue, not its rows.
 */
export interface UnchangedDatasetRef {
  pool: string;
  dataset: string;
  hash: string;
  /** Snapshots and bookmarks it holds (for the report's counts). */
  rows: number;
  /** Present when the host said explicitly that no receive is in progress (clears a stored token). */
  receive_resume_token?: null;
}

export interface ReconcilePayload {
  /** inventory: the datasets listed are replaced; batch: upsert only (original clients). */
  mode: 'inventory' | 'batch';
  system_id: string;
  report_id: string;
  generation: number | null;
  complete: boolean;
  chunk_index: number;
  chunk_count: number;
  body_hash: string;
  received_at: string;
  datasets: ReconcileDataset[];
  /** Datasets the report lists unchanged (full single-chunk inventories only). */
  unchanged?: UnchangedDatasetRef[];
}

const nullableUint = { type: ['string', 'null'], maxLength: 20, pattern: UINT64_PATTERN } as const;
/** A dataset's identity and content hash, as every dataset of a job payload carries them. */
const jobDatasetIdentity = { pool: { type: 'string', maxLength: 255 }, dataset: { type: 'string', maxLength: 255 } } as const;
const sha256Hex = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
export const reconcilePayloadSchema = {
  $id: 'ReconcilePayload',
  type: 'object',
  additionalProperties: false,
  required: ['mode', 'system_id', 'report_id', 'generation', 'complete', 'chunk_index', 'chunk_count', 'body_hash', 'received_at', 'datasets'],
  properties: {
    mode: { enum: ['inventory', 'batch'] },
    system_id: { type: 'string', format: 'uuid' },
    report_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,160}$' },
    generation: { type: ['integer', 'null'], minimum: 0 },
    complete: { type: 'boolean' },
    chunk_index: { type: 'integer', minimum: 0 },
    chunk_count: { type: 'integer', minimum: 1 },
    body_hash: sha256Hex,
    received_at: { type: 'string', format: 'date-time' },
    datasets: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['pool', 'dataset', 'snapshots', 'bookmarks'],
        properties: {
          ...jobDatasetIdentity,
          receive_resume_token: { type: ['string', 'null'], maxLength: 8192 },
          hash: sha256Hex,
          snapshots: {
            type: 'array',
            items: {
              type: 'array',
              minItems: 7,
              maxItems: 7,
              items: [{ type: 'string', maxLength: 255 }, nullableUint, nullableUint, { type: 'integer' }, nullableUint, nullableUint, { type: ['integer', 'null'] }],
            },
          },
          bookmarks: {
            type: 'array',
            items: { type: 'array', minItems: 4, maxItems: 4, items: [{ type: 'string', maxLength: 255 }, nullableUint, nullableUint, { type: 'integer' }] },
          },
        },
      },
    },
    unchanged: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['pool', 'dataset', 'hash', 'rows'],
        properties: {
          ...jobDatasetIdentity,
          hash: sha256Hex,
          rows: { type: 'integer', minimum: 0 },
          receive_resume_token: { type: 'null' },
        },
      },
    },
  },
} as const;


export const recomputeLinksPayloadSchema = {
  $id: 'RecomputeLinksPayload',
  type: 'object',
  additionalProperties: false,
  required: ['system_id', 'dataset_id', 'pool', 'dataset', 'version'],
  properties: {
    system_id: { type: 'string', format: 'uuid' },
    dataset_id: { type: 'string', pattern: '^[0-9]{1,19}$' },
    pool: { type: 'string', maxLength: 255 },
    dataset: { type: 'string', maxLength: 255 },
    version: { type: 'string', pattern: '^[0-9]{1,19}$' },
  },
} as const;
/** `version`: the dataset's content version that triggered this job; older versions are skipped. */
export type RecomputeLinksPayload = FromSchema<typeof recomputeLinksPayloadSchema>;
