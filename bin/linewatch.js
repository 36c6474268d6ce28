#!/usr/bin/env node
// Entry point: the sources are TypeScript, run through tsx's loader (no build step on the device).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
