import { type App, DefaultStackSynthesizer } from 'aws-cdk-lib';
import { stackName } from '../core/contract.ts';
import type { RegionSyncConfig, ResolvedConfig } from './config/schema.ts';
import { validateConfig } from './config/validate.ts';
import { RegionStack } from './stacks/region-stack.ts';

/** Options of {@link buildApp}: how the app is synthesized (account, bootstrap check, emulator), not what it deploys (the config says that). */
export interface BuildAppOptions {
  /** Account for regions whose config names none. @default process.env.CDK_DEFAULT_ACCOUNT */
  readonly defaultAccount?: string;
  /**
   * Add the CDK's bootstrap-version check (an SSM parameter) to each template. Emulators that
   * cannot update a stack with that SSM parameter (moto) deploy without it.
   * @default true
   */
  readonly bootstrapVersionRule?: boolean;
  /**
   * Deploying to an emulator: one stack per region whatever the config's `stackLayout` (moto
   * replaces a nested stack on every update, tables included) and no resource limit (emulators
   * enforce none).
   * @default false
   */
  readonly emulator?: boolean;
}

/** Validates the config (throwing a ConfigError naming every bad field) and adds one stack per region. */
export function buildApp(app: App, input: RegionSyncConfig, options: BuildAppOptions = {}): RegionStack[] {
  const resolved = validateConfig(input);
  // Emulators enforce no resource limit, and moto cannot update nested stacks in place.
  if (options.emulator && app.node.children.length === 0) app.node.setContext('@aws-cdk/core:stackResourceLimit', 0);
  const defaultAccount = options.defaultAccount ?? process.env.CDK_DEFAULT_ACCOUNT;
  // Fill in the default account everywhere, so a shipper addresses another region's queue in the
  // account that region really deploys to, not in its own.
  const config: ResolvedConfig = {
    ...resolved,
    ...(options.emulator ? { stackLayout: 'single' as const } : {}),
    regions: resolved.regions.map((r) => ((r.account ?? defaultAccount) ? { ...r, account: r.account ?? defaultAccount } : r)),
  };
  return config.regions
    .filter((r) => config.tables.some((t) => t.regions.includes(r.region)))
    .map((r) => {
      const account = r.account ?? defaultAccount;
      return new RegionStack(app, stackName(resolved.appName, r.region), {
        config,
        region: r.region,
        env: { region: r.region, ...(account ? { account } : {}) },
        description: `regionsync: replicated tables in ${r.region}`,
        enforceResourceLimit: !options.emulator,
        ...(options.bootstrapVersionRule === false ? { synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }) } : {}),
      });
    });
}
