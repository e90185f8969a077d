/** Lambda entry point for tables without a custom resolver. */
import { createApplierHandler } from '../src/functions/applier/create-handler.ts';

/** The applier handler, built once per container. */
export const handler = createApplierHandler();
