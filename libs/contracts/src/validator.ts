import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { isHostName, isPosixUserName } from '@zfs-sync/domain';

/**
 * The one ajv instance that checks every API body and job payload. Strict mode, unknown fields
 * rejected by each schema (`additionalProperties: false`), custom formats for values that will
 * reach a shell command.
 */
// verbose: errors carry their schema, so a field's own description can say what it accepts.
export const ajv = new Ajv({ strict: true, allErrors: false, allowUnionTypes: true, useDefaults: false, messages: true, verbose: true });
addFormatsModule.default(ajv, ['date-time', 'uuid', 'uri']);
ajv.addFormat('host-name', { type: 'string', validate: isHostName });
ajv.addFormat('posix-user', { type: 'string', validate: isPosixUserName });
ajv.addKeyword({
  keyword: 'maxJsonBytes',
  type: 'object',
  schemaType: 'number',
  errors: false,
  validate: (max: number, data: unknown) => Buffer.byteLength(JSON.stringify(data)) <= max,
});

export interface FieldError {
  /** JSON pointer of the failing value, e.g. `/ssh_port` or `/3/guid`. */
  pointer: string;
  /** The failing field in dotted form, e.g. `ssh_port` or `[3].guid` ('' for the whole body). */
  field: string;
  detail: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; error: FieldError };

const FORMAT_RULES: Record<string, string> = {
  'host-name': 'must be a DNS name or an IP literal (no spaces, quotes or shell metacharacters)',
  'posix-user': 'must be a POSIX user name (letters, digits, ".", "_", "-"; at most 32 characters)',
  uuid: 'must be a UUID',
  'date-time': 'must be an ISO 8601 date-time',
};

export function pointerToField(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

/** One readable sentence for one ajv error, naming the field. */
export function describeAjvError(e: ErrorObject, prefix = ''): FieldError {
  let pointer = prefix + e.instancePath;
  let rule: string;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      pointer = `${pointer}/${extra.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      rule = 'is not a known field';
      break;
    }
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      pointer = `${pointer}/${missing}`;
      rule = 'is required';
      break;
    }
    case 'format':
      rule = (e.parentSchema as { description?: string } | undefined)?.description ?? FORMAT_RULES[(e.params as { format: string }).format] ?? e.message ?? 'is invalid';
      break;
    case 'maxJsonBytes':
      rule = `is too large once serialised (at most ${(e.schema as number) ?? ''} bytes)`;
      break;
    case 'enum':
      rule = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'pattern':
      rule = (e.parentSchema as { description?: string } | undefined)?.description ?? 'has characters or a shape that is not allowed';
      break;
    case 'type':
    case 'maximum':
    case 'minimum':
      // A field that accepts several forms explains them better than "must be string,integer".
      rule = (e.parentSchema as { description?: string } | undefined)?.description ?? e.message ?? 'is invalid';
      break;
    default:
      rule = e.message ?? 'is invalid';
  }
  const field = pointerToField(pointer);
  return { pointer, field, detail: `${field || 'body'} ${rule}` };
}

export function compile<T>(schema: object): (data: unknown) => Validation<T> {
  const fn: ValidateFunction = ajv.compile(schema);
  return (data: unknown) => (fn(data) ? { ok: true, value: data as T } : { ok: false, error: describeAjvError(fn.errors![0]!) });
}
