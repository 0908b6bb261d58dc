/**
 * Kubernetes resource quantities (the `resource.Quantity` strings of a pod's
 * limits: 512Mi, 1Gi, 500m, 2) to and from the numbers of SandboxLimits. Only the
 * suffixes a pod's cpu, memory and ephemeral-storage use; exponent forms (1e3) are
 * refused rather than guessed.
 */
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

export function parseQuantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`${JSON.stringify(q)} is not a Kubernetes quantity this driver reads (e.g. 500m, 512Mi, 2)`);
  const unit = m[2] ?? '';
  return Number(m[1]) * (BINARY[unit] ?? DECIMAL[unit]);
}

/** bytes as the largest binary unit that divides them exactly (536870912 -> 512Mi), so defaults round-trip */
export function formatBytes(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes <= 0) throw new Error(`a size in bytes must be a positive whole number, got ${bytes}`);
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki']) if (bytes % BINARY[unit] === 0) return `${bytes / BINARY[unit]}${unit}`;
  return String(bytes);
}

/** cores as whole cores or millicores (1 -> "1", 0.5 -> "500m") */
export function formatCpu(cores: number): string {
  if (!(cores > 0)) throw new Error(`cpus must be above 0, got ${cores}`);
  return Number.isInteger(cores) ? String(cores) : `${Math.round(cores * 1000)}m`;
}
