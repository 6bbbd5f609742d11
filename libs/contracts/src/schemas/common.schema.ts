/** Building blocks shared by the API schemas. Every string and array is bounded. */
export const uuidString = { type: 'string', format: 'uuid', maxLength: 36 } as const;
export const hostNameString = { type: 'string', minLength: 1, maxLength: 253, format: 'host-name' } as const;
/** A site name (room, building, city): printable, no control characters. */
export const siteString = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$', description: 'must be 1–64 printable characters' } as const;
export const metadataObject = { type: 'object', maxProperties: 256, maxJsonBytes: 16_384 } as const;
