// The built-in scenarios: data files in the public scenario format (docs/scenario.md).
import apicPriority from './apic-priority.json';
import nmiBlocking from './nmi-blocking.json';
import softVnmi from './soft-vnmi.json';
import stiHltShadow from './sti-hlt-shadow.json';

/** In the order the picker lists them; the first is loaded when the app starts. */
export const BUILTIN_SCENARIOS: readonly unknown[] = [stiHltShadow, nmiBlocking, apicPriority, softVnmi];

export function builtinNames(): string[] {
  return BUILTIN_SCENARIOS.map((s) => (s as { name: string }).name);
}

export function findBuiltin(name: string): unknown | undefined {
  return BUILTIN_SCENARIOS.find((s) => (s as { name: string }).name === name);
}
