/**
 * Adopting a table that already exists (`adoptIn`, docs/adopting.md): the stack imports it by name
 * instead of creating it, and needs its stream's ARN, which only exists once the stream is enabled
 * (the ARN ends in the time it was enabled). `regionsync adopt` enables the stream and records the
 * ARN in the CDK context (cdk.context.json, as the CDK's own lookups do), under this key.
 */

/** The CDK context key holding the stream ARN of table `tableName` (physical name) adopted in `region`. */
export function adoptedStreamContextKey(region: string, tableName: string): string {
  return `regionsync:adopted-stream:${region}:${tableName}`;
}
