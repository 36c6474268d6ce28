// Worker threads do not inherit tsx's loader on Node 20, so the worker registers it before
// importing the TypeScript worker (the same bootstrap as bin/linewatch.js).
import { register } from 'tsx/esm/api';

register();
await import('./inference-worker.ts');
