/** Lambda entry point for tables without a custom resolver. */
import { createShipperHandler } from './create-handler.ts';

export const handler = createShipperHandler();
