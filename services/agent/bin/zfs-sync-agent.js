#!/usr/bin/env node
// Development entry (npm bin): runs the TypeScript sources through tsx. Hosts run the bundle
// built by `npm run build:agent` instead (one file, no node_modules).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
