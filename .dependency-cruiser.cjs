/**
 * The architecture's rules (docs/development.md, "Layout"), checked by `npm run lint` in `npm test`.
 * Layers only point down: core ← functions ← infra ← ops ← cli; client beside ops, over core.
 * Development tooling (dev/) sits beside the product and the product never imports it.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle ties modules into one: split the shared part (often a type) into a module of its own.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'src/core holds the rules (versions, resolvers, codec): it calls no AWS service and imports nothing above it. Types from the SDK are allowed (they are erased).',
      from: { path: '^src/core/' },
      to: {
        pathNot: ['^src/core/', '^node_modules/@aws-sdk/util-dynamodb/', '^node_modules/@types/'],
        dependencyTypesNot: ['type-only', 'core'],
      },
    },
    {
      name: 'core-imports-no-layer-above',
      severity: 'error',
      comment: 'Not even types: src/core must stand alone.',
      from: { path: '^src/core/' },
      to: { path: '^(src/(functions|infra|client|ops|cli)|lib|lambda|bin|dev|test)/' },
    },
    {
      name: 'functions-only-over-core',
      severity: 'error',
      comment: 'The Lambda functions depend on the core and on their SDKs, never on the CDK app, the operations library, the CLI or the client helper.',
      from: { path: '^(src/functions|lambda)/' },
      to: { path: '^(src/(infra|client|ops|cli)|lib|bin|dev|test)/' },
    },
    {
      name: 'infra-not-above',
      severity: 'error',
      comment: 'What `cdk synth` needs never imports the operator tooling or the CLI.',
      from: { path: '^src/infra/' },
      to: { path: '^(src/(client|ops|cli)|bin|dev|test)/' },
    },
    {
      name: 'client-not-above',
      severity: 'error',
      comment: 'What applications import pulls in neither the CDK app, the operations library nor the CLI.',
      from: { path: '^src/client/' },
      to: { path: '^(src/(infra|ops|cli|functions)|lib|bin|dev|test)/' },
    },
    {
      name: 'ops-not-above',
      severity: 'error',
      comment: 'Operations are a library: the CLI sits on them, never the other way.',
      from: { path: '^src/ops/' },
      to: { path: '^(src/cli|bin|dev|test)/' },
    },
    {
      name: 'product-never-imports-dev-or-test',
      severity: 'error',
      comment: 'The local runtime, the bench and the soak sit beside the product; tests sit on top.',
      from: { path: '^(src|lib|lambda)/' },
      to: { path: '^(dev|test)/' },
    },
    {
      name: 'only-cli-prints-or-parses-argv',
      severity: 'error',
      comment: 'Argument parsing belongs to src/cli (and the dev commands): libraries take options.',
      from: { path: '^(src/(core|functions|infra|client|ops)|lib|lambda)/' },
      to: { path: '^(node:util|util)$', dependencyTypes: ['core'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing fails at run time.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(cdk\\.out|\\.regionsync)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'] },
  },
};
