export { startWorkers, type RunningWorkers } from './start-workers.js';
export { PROCESSORS, selectProcessors } from './registry.js';
