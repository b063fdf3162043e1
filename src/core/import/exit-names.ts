// Exit reason names as KVM's kvm_exit tracepoint prints them (kvm_print_exit_reason in
// arch/x86/kvm/trace.h): VMX_EXIT_REASONS for Intel (the lab's exit-reason table uses the same
// Linux names), SVM_EXIT_REASONS from arch/x86/include/uapi/asm/svm.h for AMD.
import { EXIT_REASONS } from '../vmx/exit-reasons';

const SVM_NAMED: [number, string][] = [
  [0x060, 'interrupt'],
  [0x061, 'nmi'],
  [0x062, 'smi'],
  [0x063, 'init'],
  [0x064, 'vintr'],
  [0x065, 'cr0_sel_write'],
  [0x06e, 'rdtsc'],
  [0x06f, 'rdpmc'],
  [0x070, 'pushf'],
  [0x071, 'popf'],
  [0x072, 'cpuid'],
  [0x073, 'rsm'],
  [0x074, 'iret'],
  [0x075, 'swint'],
  [0x076, 'invd'],
  [0x077, 'pause'],
  [0x078, 'hlt'],
  [0x079, 'invlpg'],
  [0x07a, 'invlpga'],
  [0x07b, 'io'],
  [0x07c, 'msr'],
  [0x07d, 'task_switch'],
  [0x07e, 'ferr_freeze'],
  [0x07f, 'shutdown'],
  [0x080, 'vmrun'],
  [0x081, 'hypercall'],
  [0x082, 'vmload'],
  [0x083, 'vmsave'],
  [0x084, 'stgi'],
  [0x085, 'clgi'],
  [0x086, 'skinit'],
  [0x087, 'rdtscp'],
  [0x088, 'icebp'],
  [0x089, 'wbinvd'],
  [0x08a, 'monitor'],
  [0x08b, 'mwait'],
  [0x08d, 'xsetbv'],
  [0x400, 'npf'],
  [0x401, 'avic_incomplete_ipi'],
  [0x402, 'avic_unaccelerated_access'],
  [-1, 'invalid_guest_state'],
];
/** Exceptions print as "DE excp" .. "XF excp": exit code 0x40 + vector. */
const SVM_EXCEPTIONS: [number, string][] = [
  [0, 'DE'],
  [1, 'DB'],
  [3, 'BP'],
  [4, 'OF'],
  [5, 'BR'],
  [6, 'UD'],
  [7, 'NM'],
  [8, 'DF'],
  [10, 'TS'],
  [11, 'NP'],
  [12, 'SS'],
  [13, 'GP'],
  [14, 'PF'],
  [16, 'MF'],
  [17, 'AC'],
  [18, 'MC'],
  [19, 'XF'],
];

export const SVM_EXIT_CODES: ReadonlyMap<string, number> = new Map<string, number>([
  ...SVM_NAMED.map(([c, n]) => [n, c] as [string, number]),
  ...SVM_EXCEPTIONS.map(([v, n]) => [`${n} excp`, 0x40 + v] as [string, number]),
  ...[0, 2, 3, 4, 8].map((cr) => [`read_cr${cr}`, cr] as [string, number]),
  ...[0, 2, 3, 4, 8].map((cr) => [`write_cr${cr}`, 0x10 + cr] as [string, number]),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((dr) => [`read_dr${dr}`, 0x20 + dr] as [string, number]),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((dr) => [`write_dr${dr}`, 0x30 + dr] as [string, number]),
]);

export const VMX_EXIT_CODES: ReadonlyMap<string, number> = new Map(
  EXIT_REASONS.map((r) => [r.name.replace(/^EXIT_REASON_/, ''), r.code]),
);

export interface ExitReason {
  /** The name as printed ("EXTERNAL_INTERRUPT", "DB excp"), or the number printed when the
   *  kernel had no name for it. */
  name: string;
  /** The basic exit reason (VMX) or exit code (SVM), when known. */
  code: number | null;
  isa: 'vmx' | 'svm' | null;
  /** VMX exit-reason flags printed after the name (e.g. FAILED_VMENTRY). */
  flags: string[];
}

/** Reads the reason text of kvm_exit / kvm_nested_vmexit(_inject). */
export function readExitReason(text: string): ExitReason {
  const svm = SVM_EXIT_CODES.get(text);
  if (svm !== undefined) return { name: text, code: svm, isa: 'svm', flags: [] };
  const [first, ...flags] = text.split(' ');
  const vmx = VMX_EXIT_CODES.get(first);
  if (vmx !== undefined) return { name: first, code: vmx, isa: 'vmx', flags };
  // __print_symbolic prints an unnamed value as hex.
  if (/^0x[0-9a-f]+$/i.test(first)) return { name: first, code: parseInt(first, 16), isa: null, flags };
  return { name: text, code: null, isa: null, flags: [] };
}
