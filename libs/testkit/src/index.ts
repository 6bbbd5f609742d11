export * from './services.js';
export * from './database.js';
export * from './queue-prefix.js';
export * from './tcp-proxy.js';
export * from './zfs-sim/fleet.js';
export type { SimDataset, SimSnapshot, SimBookmark, SimSettings, SimState } from './zfs-sim/state.js';
