import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root (this file is src/project-root.ts): where the sources, node_modules and the bundle cache are. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
