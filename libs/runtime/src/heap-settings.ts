/**
 * Importing this module applies the heap settings (heap.ts). Each entry point imports it first,
 * so they are in force before the rest of the program is evaluated and the young generation has
 * not yet grown.
 */
import { applyHeapSettings } from './heap.js';

applyHeapSettings();
