/**
 * Where the driver keeps things and the default limits. Everything can be set
 * from the environment (config/settings.ts: a typo in a limit is an error, not a
 * default).
 */
import path from 'node:path';
import { z } from 'zod';
import { DEFAULTS, loadSettings, type Settings } from '../config/settings.ts';
import type { PodConditions } from './oci-spec.ts';
import type { SandboxLimits } from './types.ts';

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 512 * MiB,
  pids: 512,
  cpus: 1,
  diskBytes: 256 * MiB,
  lifetimeMs: 4 * 60 * 60 * 1000,
  ptys: 64,
};

export interface DriverConfig {
  /** persistent data (helper binaries; the classroom keeps its database here too) */
  dataDir: string;
  /** built images (NSLAB_IMAGES, default <dataDir>/images) */
  imagesDir: string;
  /** runtime state (sandbox dirs, crun state); a tmpfs, gone at reboot */
  runDir: string;
  /** several lab servers (or test runs) can share a host; each reaps only its own orphans */
  instance: string;
  limits: SandboxLimits;
  /** first host uid of the per-sandbox ranges; each sandbox gets 65536 ids of its own */
  uidBase: number;
  uidSlots: number;
  /** default sandboxes kept warm (the server sets it; 0 = off) */
  poolSize: number;
  /** how long a sandbox's init and a pre-started shell may take to be ready (NSLAB_START_SECONDS) */
  startTimeoutMs: number;
  /**
   * orphan sweep: cgroups and uid claims with no sandbox directory are left alone
   * this long (another server may be creating that sandbox right now). Default 60 s.
   */
  strayGraceMs?: number;
  /**
   * Tests only, never from the environment: run every sandbox as a Kubernetes
   * pod's container would be set up (oci-spec.ts, PodConditions) instead of as
   * nslab's own sandbox. Unset, the sandbox is exactly the default one.
   */
  pod?: PodConditions;
}

/** The environment's settings (throws naming a bad variable), then driverConfig. */
export function loadDriverConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<DriverConfig> = {}): DriverConfig {
  return driverConfig(loadSettings(env), overrides);
}

export function driverConfig(e: Settings, overrides: Partial<DriverConfig> = {}): DriverConfig {
  const limits: SandboxLimits = {
    ...DEFAULT_LIMITS,
    ...(e.NSLAB_MEMORY_MB ? { memoryBytes: e.NSLAB_MEMORY_MB * MiB } : {}),
    ...(e.NSLAB_PIDS ? { pids: e.NSLAB_PIDS } : {}),
    ...(e.NSLAB_CPUS ? { cpus: e.NSLAB_CPUS } : {}),
    ...(e.NSLAB_DISK_MB ? { diskBytes: e.NSLAB_DISK_MB * MiB } : {}),
    ...(e.NSLAB_LIFETIME_MIN ? { lifetimeMs: e.NSLAB_LIFETIME_MIN * 60_000 } : {}),
  };
  const dataDir = e.NSLAB_DATA ?? DEFAULTS.dataDir;
  return {
    dataDir,
    imagesDir: e.NSLAB_IMAGES ?? path.join(dataDir, 'images'),
    runDir: e.NSLAB_RUN ?? DEFAULTS.runDir,
    instance: e.NSLAB_INSTANCE ?? DEFAULTS.instance,
    limits,
    // 2^27: far above the ids distributions hand out (subuid ranges start at 100000)
    uidBase: 134_217_728,
    uidSlots: 16_384,
    poolSize: e.NSLAB_POOL ?? 0,
    startTimeoutMs: (e.NSLAB_START_SECONDS ?? DEFAULTS.startSeconds) * 1000,
    ...overrides,
  };
}

export const limitsSchema = z.object({
  memoryBytes: z.number().int().min(32 * MiB).max(64 * 1024 * MiB),
  pids: z.number().int().min(16).max(65_536),
  cpus: z.number().positive().max(64),
  diskBytes: z.number().int().min(8 * MiB).max(64 * 1024 * MiB),
  lifetimeMs: z.number().int().min(1000),
  ptys: z.number().int().min(4).max(4096),
});
