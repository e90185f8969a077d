/** Lambda entry point for tables with `tracing: true` and no custom resolver. */
import { tracedClients } from '../src/functions/shared/tracing.ts';
import { createShipperHandler } from '../src/functions/shipper/create-handler.ts';

/** The shipper handler (stream batches and backlog messages), with every AWS SDK call traced in X-Ray. */
export const handler = createShipperHandler({ instrumentClient: tracedClients('regionsync-shipper') });
