/**
 * The CloudFormation linter the CDK itself runs at synth (`@aws/cloudformation-validate`, cfn-lint's
 * rules compiled to WebAssembly, bundled inside aws-cdk-lib), run on purpose and at every
 * severity: the test suite turns the CDK's own run off (CDK_VALIDATION=false) for speed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

interface Diagnostic {
  readonly severity: string;
  readonly ruleId: string;
  readonly message: string;
  readonly entity?: { readonly logicalId?: string };
}
interface Engine {
  validateTemplate(t: unknown, config?: Record<string, unknown>): { diagnostics: Diagnostic[] };
  free(): void;
}
interface ValidateModule {
  CompositeEngine: new () => Engine;
  TemplateContent: new (content: string, name?: string) => unknown;
}

const cdkRequire = createRequire(createRequire(import.meta.url).resolve('aws-cdk-lib/package.json'));
const validate = cdkRequire('@aws/cloudformation-validate') as ValidateModule;

export interface Finding {
  readonly template: string;
  readonly severity: string;
  readonly ruleId: string;
  readonly message: string;
  readonly logicalId?: string;
}

/** Every finding (errors, warnings, informational) on every `*.template.json` (those `include` keeps) in a cloud assembly directory. */
export function lintAssembly(outdir: string, include: (file: string) => boolean = () => true): Finding[] {
  // One engine per test process: building it compiles every rule (seconds); validating is cheap.
  const linter = (engine ??= new validate.CompositeEngine());
  return readdirSync(outdir)
    .filter((f) => f.endsWith('.template.json') && include(f))
    .flatMap((file) =>
      linter
        .validateTemplate(new validate.TemplateContent(readFileSync(path.join(outdir, file), 'utf8'), file), { severityLevel: 'INFO' })
        .diagnostics.map((d) => ({
          template: file,
          severity: d.severity,
          ruleId: d.ruleId,
          message: d.message,
          ...(d.entity?.logicalId ? { logicalId: d.entity.logicalId } : {}),
        })),
    );
}

let engine: Engine | undefined;
