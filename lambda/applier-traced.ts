/** Lambda entry point for tables with `tracing: true` and no custom resolver. */
import { tracedClients } from '../src/functions/shared/tracing.ts';
import { createApplierHandler } from '../src/functions/applier/create-handler.ts';

/** The applier handler, with every AWS SDK call traced in X-Ray. */
export const handler = createApplierHandler({ instrumentClient: tracedClients('regionsync-applier') });
