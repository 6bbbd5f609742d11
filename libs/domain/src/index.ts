export * from './shell-quote.js';
export * from './net-names.js';
export * from './zfs/zfs-name.js';
export * from './zfs/uint64.js';
export * from './zfs/zfs-list-tsv.js';
export * from './zfs/snapshot-input.js';
export * from './sync/index.js';
export * from './webhooks/index.js';
