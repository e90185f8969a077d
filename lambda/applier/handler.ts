/** Lambda entry point for tables without a custom resolver. */
import { createApplierHandler } from './create-handler.ts';

export const handler = createApplierHandler();
