/**
 * Reads IAM out of a synthesized template: every policy statement that applies to a Lambda
 * function's execution role, flattened into (effect, action, resource) grants that tests can
 * compare exactly.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { flatten, propertiesOf, resources } from './infra-fixture.ts';

export interface PolicyStatementJson {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

/** Where a statement came from, for failure messages. */
export interface SourcedStatement {
  readonly source: string;
  readonly statement: PolicyStatementJson;
}

export interface RolePolicies {
  readonly roleId: string;
  /** Statements of every inline policy, AWS::IAM::Policy and customer-managed AWS::IAM::ManagedPolicy attached to the role. */
  readonly statements: readonly SourcedStatement[];
  /** ManagedPolicyArns of the role (AWS-managed policies' statements are not in the template), flattened. */
  readonly managedPolicyArns: readonly string[];
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The logical ID of the role a function runs as, read from the function's `Role: Fn::GetAtt [role, Arn]`. */
export function roleIdOfFunction(template: Template, functionId: string): string {
  const role = propertiesOf(template, functionId).Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const getAtt = role?.['Fn::GetAtt'];
  if (!getAtt || getAtt[1] !== 'Arn') throw new Error(`${functionId}: Role is not a GetAtt of a role in this template: ${JSON.stringify(role)}`);
  return getAtt[0];
}

const namesRole = (roles: unknown, roleId: string): boolean =>
  asList(roles as unknown[]).some((r) => typeof r === 'object' && r !== null && (r as { Ref?: string }).Ref === roleId);

/** Every policy statement attached to the role, wherever the template attaches it. */
export function policiesOfRole(template: Template, roleId: string): RolePolicies {
  const all = resources(template);
  const role = all[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not an AWS::IAM::Role`);
  const statements: SourcedStatement[] = [];
  for (const inline of asList(role.Properties?.Policies as { PolicyName: string; PolicyDocument: { Statement: PolicyStatementJson[] } }[])) {
    for (const statement of inline.PolicyDocument.Statement) statements.push({ source: `${roleId}.Policies[${inline.PolicyName}]`, statement });
  }
  for (const [id, r] of Object.entries(all)) {
    if ((r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && namesRole(r.Properties?.Roles, roleId)) {
      for (const statement of r.Properties!.PolicyDocument.Statement as PolicyStatementJson[]) statements.push({ source: id, statement });
    }
  }
  return { roleId, statements, managedPolicyArns: asList(role.Properties?.ManagedPolicyArns as unknown[]).map(flatten) };
}

export function policiesOfFunction(template: Template, functionId: string): RolePolicies {
  return policiesOfRole(template, roleIdOfFunction(template, functionId));
}

/** One action on one resource: a statement with N actions and M resources is N×M grants. */
export interface Grant {
  readonly effect: 'Allow' | 'Deny';
  readonly action: string;
  readonly resource: string;
  readonly conditional: boolean;
  readonly source: string;
}

/** Flattens statements into grants. NotAction/NotResource (open-ended by nature) are rejected outright. */
export function grantsOf(statements: readonly SourcedStatement[]): Grant[] {
  const grants: Grant[] = [];
  for (const { source, statement } of statements) {
    if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
      throw new Error(`${source}: NotAction/NotResource statement ${JSON.stringify(statement)}`);
    }
    for (const action of asList(statement.Action)) {
      for (const resource of asList(statement.Resource as unknown[])) {
        grants.push({ effect: statement.Effect, action, resource: flatten(resource), conditional: statement.Condition !== undefined, source });
      }
    }
  }
  return grants;
}

/** `action on resource`, the comparable form of an Allow grant. */
export const grantText = (g: Pick<Grant, 'action' | 'resource'>): string => `${g.action} on ${g.resource}`;

/** The Allow grants of a function's role as sorted `action on resource` strings. */
export function allowedOf(template: Template, functionId: string): string[] {
  return grantsOf(policiesOfFunction(template, functionId).statements)
    .filter((g) => g.effect === 'Allow')
    .map(grantText)
    .sort();
}

/** Every identity- and resource-policy statement in the template, for template-wide checks. */
export function allStatements(template: Template): SourcedStatement[] {
  const out: SourcedStatement[] = [];
  for (const [id, r] of Object.entries(resources(template))) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Role') {
      for (const inline of asList(p.Policies as { PolicyDocument: { Statement: PolicyStatementJson[] } }[])) {
        for (const statement of inline.PolicyDocument.Statement) out.push({ source: id, statement });
      }
    }
    // Identity policies and resource policies (queue policies, ...) all carry a PolicyDocument.
    const doc = p.PolicyDocument as { Statement?: PolicyStatementJson[] } | undefined;
    for (const statement of doc?.Statement ?? []) out.push({ source: id, statement });
  }
  return out;
}

/** Grants for `actions` on `resource`, as `grantText` renders them. */
export function on(resource: string, ...actions: string[]): string[] {
  return actions.map((action) => grantText({ action, resource }));
}
