/** Response building blocks. Answers may gain fields over time, so objects stay open. */
export const dateTime = { type: 'string', format: 'date-time' } as const;
export const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
export const uuid = { type: 'string', format: 'uuid' } as const;
export const nullableUuid = { type: ['string', 'null'], format: 'uuid' } as const;
/** uint64 values (guid, createtxg, sizes) travel as decimal strings. */
export const uint64String = { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' } as const;
export const nullableUint64String = { type: ['string', 'null'], pattern: '^(0|[1-9][0-9]{0,19})$' } as const;
export const arrayOf = (items: object) => ({ type: 'array', items }) as const;
export const stringMap = (values: object) => ({ type: 'object', additionalProperties: values }) as const;
