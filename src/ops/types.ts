/** Types the operations library shares (in a module of their own, so its modules need not import each other for them). */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** An item as the SDK returns it (DynamoDB's wire shape). */
export type Item = Record<string, AttributeValue>;
