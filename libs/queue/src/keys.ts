/**
 * Redis keys shared by the API and the workers (besides BullMQ's own). One place, so the two
 * sides cannot drift apart.
 */
/** What the API remembers of a report until it applies: meta, a body hash per chunk, progress. */
export const reportRegistryKey = (prefix: string, systemId: string, reportId: string) => `${prefix}:report:${systemId}:${reportId}`;

/** The newest generation applied for a system (a cache; PostgreSQL holds the truth). */
export const appliedGenerationKey = (prefix: string, systemId: string) => `${prefix}:generation:${systemId}`;
