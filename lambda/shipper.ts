/** Lambda entry point for tables without a custom resolver. */
import { createShipperHandler } from '../src/functions/shipper/create-handler.ts';

export const handler = createShipperHandler();
