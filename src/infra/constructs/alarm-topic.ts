/**
 * The region's alarm topic: every regionsync alarm in the region notifies it on ALARM and OK.
 * Subscriptions (email, HTTPS) come from the config.
 */
import { Aws, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Properties of {@link AlarmTopic}. */
export interface AlarmTopicProps {
  /** Names the topic, and only this app's alarms (named `<appName>/...`) may publish to it. */
  readonly appName: string;
  /**
   * Email addresses subscribed to the topic (each must confirm the subscription).
   * @default [] (no email subscription)
   */
  readonly emails?: readonly string[];
  /**
   * HTTPS endpoints subscribed to the topic (e.g. a pager's webhook).
   * @default [] (no HTTPS subscription)
   */
  readonly httpsEndpoints?: readonly string[];
}

/** The alarm topic's name, `<appName>-alarms`, the same in every region. */
export function alarmTopicName(appName: string): string {
  return `${appName}-alarms`;
}

/**
 * The region's alarm topic (SSL only), which CloudWatch alarms of this app and account may publish
 * to, with the config's email and HTTPS subscriptions.
 */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;
  /** The alarm action that notifies the topic: add it to an alarm's ALARM and OK actions. */
  public readonly action: cloudwatch.IAlarmAction;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: alarmTopicName(props.appName),
      displayName: `regionsync ${props.appName} alarms`,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a policy of its own, which replaces SNS's default one: without
    // this statement CloudWatch may not publish and every alarm action fails ("not authorized to
    // perform SNS:Publish"). Only this account's alarms of this app (named `<appName>/...`).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:${props.appName}/*` },
        },
      }),
    );
    for (const email of props.emails ?? []) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const url of props.httpsEndpoints ?? [])
      this.topic.addSubscription(new subscriptions.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));
    this.action = new actions.SnsAction(this.topic);
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and thresholds, no table data. CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key would cost more than every other regionsync resource at rest.',
    });
  }
}
