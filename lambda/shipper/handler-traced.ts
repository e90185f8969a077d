/** Lambda entry point for tables with `tracing: true` and no custom resolver. */
import { tracedClients } from '../shared/tracing.ts';
import { createShipperHandler } from './create-handler.ts';

export const handler = createShipperHandler({ instrumentClient: tracedClients('regionsync-shipper') });
