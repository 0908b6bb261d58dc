/** The sandbox driver. Everything outside lab-server/sandbox/ starts here. */
import { loadDriverConfig, type DriverConfig } from './config.ts';
import { LocalBackend } from './local-backend.ts';

export * from './types.ts';
export { DEFAULT_LIMITS, loadDriverConfig, type DriverConfig } from './config.ts';
export { Images } from './images.ts';
export { LocalBackend } from './local-backend.ts';
export { LocalSandbox } from './local-sandbox.ts';

/** The local crun back end, configured from the environment (NSLAB_*) plus overrides. */
export function createSandboxBackend(overrides: Partial<DriverConfig> = {}): LocalBackend {
  return new LocalBackend(loadDriverConfig(process.env, overrides));
}
