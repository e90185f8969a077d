/** Lambda entry point for tables without a custom resolver. */
import { createApplierHandler } from '../src/functions/applier/create-handler.ts';

export const handler = createApplierHandler();
