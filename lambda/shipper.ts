/** Lambda entry point for tables without a custom resolver. */
import { createShipperHandler } from '../src/functions/shipper/create-handler.ts';

/** The shipper handler (stream batches and backlog messages), built once per container. */
export const handler = createShipperHandler();
