/** Building blocks shared by the API schemas. Every string and array is bounded. */
export const uuidString = { type: 'string', format: 'uuid', maxLength: 36 } as const;
export const hostNameString = { type: 'string', minLength: 1, maxLength: 253, format: 'host-name' } as const;
export const metadataObject = { type: 'object', maxProperties: 256, maxJsonBytes: 16_384 } as const;
