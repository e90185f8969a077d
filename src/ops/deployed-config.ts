/**
 * The configuration of a deployed app, read from its stacks: what the operations commands work from
 * when the app was defined in someone's own CDK code (the `Replication` construct) rather than in
 * this repo's regionsync.config.ts. Every region stack keeps the resolved configuration in its
 * template's Metadata (src/infra/stacks/region-stack.ts), so one stack of the app tells the whole of it.
 */
import { resolve } from 'node:path';
import { GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { stackName } from '../core/contract.ts';
import { DEPLOYED_CONFIG_METADATA, type ResolvedConfig } from '../infra/config/schema.ts';
import { cloudformation, type Target } from './aws.ts';

/** The app's stack in `region` has no regionsync configuration: not deployed there, or deployed by an older release. */
export class DeployedConfigError extends Error {}

/**
 * The resolved configuration the app `appName` deployed, from its stack in `region` (any region it
 * deploys to). Throws a DeployedConfigError naming the stack when it is missing or holds none.
 */
export async function loadDeployedConfig(target: Target, appName: string, region: string): Promise<ResolvedConfig> {
  const stack = stackName(appName, region);
  let body: string | undefined;
  try {
    body = (await cloudformation(target, region).send(new GetTemplateCommand({ StackName: stack, TemplateStage: 'Original' }))).TemplateBody;
  } catch (e) {
    if (/does not exist|ValidationError/.test(`${(e as Error).name} ${(e as Error).message}`))
      throw new DeployedConfigError(
        `no stack ${stack} in ${region}: is the app "${appName}" deployed there? (--app names the app, --app-region a region it deploys to)`,
      );
    throw e;
  }
  const template = JSON.parse(body ?? '{}') as { Metadata?: Record<string, unknown> };
  const config = template.Metadata?.[DEPLOYED_CONFIG_METADATA] as ResolvedConfig | undefined;
  if (!config || typeof config !== 'object' || !Array.isArray(config.tables) || !Array.isArray(config.regions))
    throw new DeployedConfigError(
      `stack ${stack} in ${region} holds no regionsync configuration (Metadata.${DEPLOYED_CONFIG_METADATA}): deploy it with this release first`,
    );
  // A custom resolver's module is kept relative to where the app was synthesized: resolve it here.
  return { ...config, tables: config.tables.map((t) => (t.resolver ? { ...t, resolver: { ...t.resolver, file: resolve(t.resolver.file) } } : t)) };
}
