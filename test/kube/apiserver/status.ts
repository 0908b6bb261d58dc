/** Status objects as a real API server writes them (k8s.io/apimachinery metav1.Status). */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
  code?: number;
}

export const failure = (code: number, reason: string, message: string, details?: Status['details']): Status =>
  ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });

export const notFound = (name: string) => failure(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
export const alreadyExists = (name: string) => failure(409, 'AlreadyExists', `pods "${name}" already exists`, { name, kind: 'pods' });
export const unauthorized = () => failure(401, 'Unauthorized', 'Unauthorized');
export const invalid = (name: string, causes: { field: string; message: string }[]) =>
  failure(422, 'Invalid', `Pod "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
    { name, kind: 'Pod', causes: causes.map((c) => ({ reason: 'FieldValueInvalid', ...c })) });
export const gone = (requested: string, oldest: number) =>
  failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`);

/** the exec's end on channel 3, as the kubelet reports it through the API server */
export function execStatus(code: number, command: string[]): Omit<Status, 'kind' | 'apiVersion'> {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}
