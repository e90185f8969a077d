/**
 * cdk-nag's AWS Solutions rules on every region stack: no unacknowledged error or warning.
 *
 * cdk-nag 3 is no longer an Aspect reporting through Annotations: a NagPack is a CDK policy
 * validation plugin (`Validations.of(app).addPlugins(new AwsSolutionsChecks(app))`, run by
 * `cdk synth`), and `validateScope(scope)` is its documented entry point for tests. Findings are
 * acknowledged with `Validations.of(construct).acknowledge({ id, reason })` (NagSuppressions is
 * gone); `validateScope` leaves acknowledged findings out.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { REGIONS, regionOf, synthesizeFixture, type SynthesizedRegion, testApp } from '../support/infra-fixture.ts';

interface Finding {
  readonly rule: string;
  readonly severity: string;
  readonly resource: string;
  readonly description: string;
}

/** Every unacknowledged AwsSolutions finding under `scope`, one per (rule, resource). */
function nagFindings(scope: Stack): Finding[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({
      rule: v.ruleName,
      severity: v.severity ?? 'error',
      resource: r.constructPath ?? r.resourceLogicalId ?? '?',
      description: v.description,
    })),
  );
}

/** One line per finding, so a failure lists exactly what to fix or acknowledge. */
const lines = (findings: readonly Finding[]): string[] => findings.map((f) => `${f.severity.toUpperCase()} ${f.rule} at ${f.resource}: ${f.description}`);

let synth: Map<string, SynthesizedRegion>;
const findings = new Map<string, Finding[]>();

beforeAll(() => {
  synth = synthesizeFixture();
  for (const region of REGIONS) findings.set(region, nagFindings(regionOf(synth, region).stack));
});

describe('AwsSolutionsChecks on the region stacks', () => {
  it.each(REGIONS)('%s: no unacknowledged AwsSolutions errors', (region) => {
    // Prepare: synthesized and checked once in beforeAll.
    // Act
    const errors = findings.get(region)!.filter((f) => f.severity === 'error');

    // Assess
    expect(lines(errors)).toEqual([]);
  });

  it.each(REGIONS)('%s: no unacknowledged AwsSolutions warnings', (region) => {
    // Prepare: synthesized and checked once in beforeAll.
    // Act
    const warnings = findings.get(region)!.filter((f) => f.severity !== 'error');

    // Assess
    expect(lines(warnings)).toEqual([]);
  });
});

describe('the nag harness itself', () => {
  // Guards against a check that silently runs no rules (as the cdk-nag 2 Aspect API would now).
  it('reports findings on a non-compliant queue', () => {
    // Prepare
    const stack = new Stack(testApp(), 'NagCanary');
    new sqs.Queue(stack, 'Open', { encryption: sqs.QueueEncryption.UNENCRYPTED });

    // Act
    const rules = nagFindings(stack).map((f) => f.rule);

    // Assess
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('leaves out a finding acknowledged with Validations.of(...).acknowledge, and only that one', () => {
    // Prepare
    const stack = new Stack(testApp(), 'NagCanary');
    const queue = new sqs.Queue(stack, 'Open', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'canary: checks acknowledgements are honoured' });

    // Act
    const rules = nagFindings(stack).map((f) => f.rule);

    // Assess
    expect(rules).not.toContain('AwsSolutions-SQS3');
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS4']));
  });
});
