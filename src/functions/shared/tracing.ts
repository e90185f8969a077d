/**
 * X-Ray tracing for the functions of a table with `tracing: true`: every AWS SDK call becomes a
 * subsegment of the invocation's trace (Powertools Tracer). Only the traced entries import this
 * module, so untraced functions neither bundle nor load the X-Ray SDK.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';

/** The client instrumentation handed to a handler factory (`instrumentClient`). */
export function tracedClients(serviceName: string): <C extends object>(client: C) => C {
  const tracer = new Tracer({ serviceName });
  return (client) => tracer.captureAWSv3Client(client);
}
