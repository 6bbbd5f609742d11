/**
 * Redis keys shared by the API and the workers (besides BullMQ's own). One place, so the two
 * sides cannot drift apart.
 */
/** What the API remembers of a report until it applies: meta, a body hash per chunk, progress. */
export const reportRegistryKey = (prefix: string, systemId: string, reportId: string) => `${prefix}:report:${systemId}:${reportId}`;

/** The newest generation applied for a system (a cache; PostgreSQL holds the truth). */
export const appliedGenerationKey = (prefix: string, systemId: string) => `${prefix}:generation:${systemId}`;

/** Sorted set: system id → its last heartbeat (ms, Redis clock). Written by the API, flushed to PostgreSQL by the heartbeat sweep. */
export const lastSeenKey = (prefix: string) => `${prefix}:heartbeat:last-seen`;

/** Hash: system id → hash of the heartbeat metadata last written to PostgreSQL (a changed one is written through). */
export const heartbeatMetaKey = (prefix: string) => `${prefix}:heartbeat:meta`;

/** The Redis time (ms) up to which the last sweep flushed heartbeats. */
export const heartbeatFlushedKey = (prefix: string) => `${prefix}:heartbeat:flushed-at`;

/** Pub/sub channel: a system id whose keys changed (rotation, deletion); API processes drop their cached entries. */
export const authInvalidateChannel = (prefix: string) => `${prefix}:auth:invalidate`;

/** Hash: `pool\0dataset` → content hash of the dataset in the newest accepted full inventory of a system. */
export const datasetHashesKey = (prefix: string, systemId: string) => `${prefix}:dataset-hashes:${systemId}`;

/** Redis stream of events (issue 10): the relay appends (bounded by MAXLEN), the webhook fan-out reads it with a consumer group, API replicas tail it for SSE. PostgreSQL's event table stays the record. */
export const eventStreamKey = (prefix: string) => `${prefix}:events`;

/** Rate limiting (issue 8): a fixed-window counter per credential or source address; the window index is appended. */
export const rateLimitKey = (prefix: string, scope: 'key' | 'ip', id: string) => `${prefix}:rate:${scope}:${id}`;
