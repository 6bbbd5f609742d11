import type { MikroORM } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Config } from '@zfs-sync/config';
import type { ConflictsRepository, InstructionsRepository, LinksRepository, SyncGroupsRepository, SyncStatesRepository, SystemsRepository } from '@zfs-sync/db';
import type { Logger } from '@zfs-sync/logger';
import type { Producer } from '@zfs-sync/queue';
import type { KeyCache } from './auth/key-cache.js';
import type { EventTail } from './events/event-tail.js';
import type { ApiMetrics } from './ops/metrics.js';

/** Everything the API's routes use; built once in main.ts (or by a test) and passed in. */
export interface ApiDeps {
  config: Readonly<Config>;
  logger: Logger;
  orm: MikroORM;
  pool: pg.Pool;
  /** A plain Redis client for readiness and rate limits (offline queue off: fails fast). */
  redis: Redis;
  producer: Producer;
  systems: SystemsRepository;
  groups: SyncGroupsRepository;
  instructions: InstructionsRepository;
  links: LinksRepository;
  conflicts: ConflictsRepository;
  syncStates: SyncStatesRepository;
  adminTokenHash: string;
  /** Host key → system, cached per process; invalidated across processes on rotation and deletion. */
  keyCache: KeyCache;
  /** This process's tail of the Redis events stream, shared by its SSE clients. */
  eventTail: EventTail;
  /** This process's metrics (served at /metrics). */
  metrics: ApiMetrics;
}
