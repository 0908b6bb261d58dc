/** The sandbox driver. Everything outside lab-server/sandbox/ starts here. */
import { loadSettings, type Settings } from '../config/settings.ts';
import { driverConfig, type DriverConfig } from './config.ts';
import { LocalBackend } from './local-backend.ts';

export * from './types.ts';
export { DEFAULT_LIMITS, driverConfig, loadDriverConfig, type DriverConfig } from './config.ts';
export { Images } from './images.ts';
export { LocalBackend } from './local-backend.ts';
export { LocalSandbox } from './local-sandbox.ts';

/** The local crun back end, configured from the settings (by default the environment's NSLAB_*) plus overrides. */
export function createSandboxBackend(overrides: Partial<DriverConfig> = {}, settings: Settings = loadSettings()): LocalBackend {
  return new LocalBackend(driverConfig(settings, overrides));
}
