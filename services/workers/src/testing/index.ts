export * from './stack.js';
export type { RunningWorkers } from '../start-workers.js';
