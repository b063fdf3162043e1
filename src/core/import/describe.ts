// One line about an imported KVM event, for the app's details and tooltips and the CLI's
// search results.
import type { ImportedEvent } from './trace-cmd';

export function describeImported(e: ImportedEvent): string {
  const where = `line ${e.line}, ${e.time.toFixed(6)} s, ${e.vcpu < 0 ? 'vCPU ?' : `vCPU ${e.vcpu}`}`;
  const fields = Object.entries(e.fields)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${e.kind} (${where}): ${fields}`;
}
