import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { installVersion, type Config } from '@zfs-sync/config';

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

/**
 * The running version: the installation's package.json, read from the file (the image copies it),
 * so it is right however the process was started — from the sources or from the dist/ bundles
 * (npm sets npm_package_version; `node` in the image does not).
 */
export const SERVICE_VERSION: string = installVersion();

/**
 * What every log line written while handling one request carries (its request id), without
 * passing a child logger through every call: the API runs each request inside `logContext.run()`,
 * and every logger made by createLogger adds the store to its lines.
 */
export const logContext = new AsyncLocalStorage<{ req_id: string }>();

export function createLogger(service: string, config: Pick<Config, 'logLevel' | 'logFormat'>, extra: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const options: LoggerOptions = {
    name: service,
    level: config.logLevel,
    base: { service, version: SERVICE_VERSION },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => logContext.getStore() ?? {},
    ...(pretty && !destination ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
    ...extra,
  };
  return destination ? pino(options, destination) : pino(options);
}
