/**
 * PostgreSQL COPY text format: one line per row, tab between columns, `\N` for NULL, and
 * backslash escapes for the four characters that would break the framing.
 */
const NEEDS_ESCAPE = /[\\\t\n\r]/;

export function copyField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'number') return String(value);
  return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : value;
}

export function copyLine(fields: Array<string | number | null | undefined>): string {
  let line = '';
  for (let i = 0; i < fields.length; i++) line += (i ? '\t' : '') + copyField(fields[i]);
  return `${line}\n`;
}
