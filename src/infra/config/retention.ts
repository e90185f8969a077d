/** How long AWS keeps what replication waits on: the bounds the config and the constructs share. */

/** Retention of a table's dead-letter, backlog and stream-failure queues: 14 days, SQS's maximum. */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;
/** How long a DynamoDB stream keeps its records: 24 hours. */
export const STREAM_RETENTION_SECONDS = 24 * 3600;
