import test from 'ava';
import { HEAP_FLAGS, heapFlagsToApply } from './heap.js';

test('every heap setting applies unless the same flag was given on the command line', (t) => {
  t.deepEqual(heapFlagsToApply([]), [...HEAP_FLAGS]);
  t.deepEqual(heapFlagsToApply(['--import', 'tsx']), [...HEAP_FLAGS]);
  t.deepEqual(heapFlagsToApply(['--heap-growing-percent=0']), ['--semi-space-growth-factor=1']);
  t.deepEqual(heapFlagsToApply(['--semi_space_growth_factor=2', '--heap-growing-percent=10']), []);
});
