/** Lambda entry point for tables with `tracing: true` and no custom resolver. */
import { tracedClients } from '../shared/tracing.ts';
import { createApplierHandler } from './create-handler.ts';

export const handler = createApplierHandler({ instrumentClient: tracedClients('regionsync-applier') });
