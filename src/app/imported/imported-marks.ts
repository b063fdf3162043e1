// How an imported KVM event is drawn: the timeline's colour family of what it stands for.
import type { ImportedEvent } from '../../core/import/trace-cmd';
import type { MarkCategory } from '../theme';

export function importedCategory(e: ImportedEvent): MarkCategory {
  switch (e.kind) {
    case 'kvm_exit':
    case 'kvm_nested_vmexit':
    case 'kvm_nested_vmexit_inject':
    case 'kvm_nested_intr_vmexit':
      return 'vmexit';
    case 'kvm_entry':
    case 'kvm_nested_vmenter':
      return 'vmentry';
    case 'kvm_inj_virq':
      return e.fields.type === 'Soft/INTn' ? 'software' : 'extint';
    case 'kvm_inj_exception':
      return e.vector === 2 ? 'nmi' : 'exception';
  }
}

/** Exits that "explain this exit" can match to a built-in. */
export const isExit = (e: ImportedEvent) => e.kind === 'kvm_exit' || e.kind === 'kvm_nested_vmexit';

export { describeImported } from '../../core/import/describe';
