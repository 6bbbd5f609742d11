/**
 * PostgreSQL COPY text format: one line per row, tab between columns, `\N` for NULL, and
 * backslash escapes for the four characters that would break the framing.
 */
export function copyField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const s = typeof value === 'number' ? String(value) : value;
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s;
}

export function copyLine(fields: Array<string | number | null | undefined>): string {
  let line = '';
  for (let i = 0; i < fields.length; i++) line += (i ? '\t' : '') + copyField(fields[i]);
  return `${line}\n`;
}
