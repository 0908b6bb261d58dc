/** The install as one multi-document YAML file, what `nslab kube render` prints. */
import { stringify } from 'yaml';
import { clusterObjects } from './cluster-objects.ts';
import type { ResolvedValues } from './values.ts';

export function renderInstall(v: ResolvedValues): string {
  const head = `# nslab on Kubernetes: rendered by \`nslab kube render\` for ${v.learners} learners (docs/kubernetes.md).\n# Apply with: kubectl apply --server-side -f <this file>\n`;
  return head + clusterObjects(v).map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
