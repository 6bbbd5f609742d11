import { pino, type Logger, type LoggerOptions } from 'pino';
import type { Config } from '@zfs-sync/config';

export type { Logger } from 'pino';

/**
 * Paths pino replaces with "[redacted]" wherever they appear: credentials in request headers and
 * any key, token or hash field in a logged object. Keys must never reach a log line.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'api_key',
  '*.api_key',
  'apiKey',
  '*.apiKey',
  'key_hash',
  '*.key_hash',
  'token',
  '*.token',
  'adminToken',
  'enrollmentToken',
  '*.adminToken',
  '*.enrollmentToken',
  'password',
  '*.password',
];

export const SERVICE_VERSION = process.env.npm_package_version ?? '0.1.0';

export function createLogger(service: string, config: Pick<Config, 'logLevel' | 'logFormat'>, extra: LoggerOptions = {}): Logger {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  return pino({
    name: service,
    level: config.logLevel,
    base: { service, version: SERVICE_VERSION },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
    ...extra,
  });
}
