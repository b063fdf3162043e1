// KVM's (and the Xen model's) instructions above L0: the sensitive instructions the KVM model executes are real
// instructions of this small program, at real addresses in KVM's memory, so that when one
// traps its exit carries a true GUEST_RIP and instruction length, and the level below
// emulates it by decoding it as it would any guest's. The program also holds KVM's IDT: one
// gate per vector, each to its own entry, so the host interrupt handler knows its vector.
import { assemble } from '../../asm';
import type { Program } from '../../asm/ir';
import { KVM_HOST } from './context';

/** The first vector with its own handler entry (0–31 are exceptions; 2 is the NMI's). */
const FIRST_IRQ = 0x20;

function source(): string {
  const lines = [
    "vmx_vmexit: nop                 ; HOST_RIP of KVM's VMCSs: its guest's exits land here",
    'start:      nop                 ; where KVM runs between its instructions',
    's_vmread:   vmread rax, rdx',
    's_vmwrite:  vmwrite rdx, rax',
    's_vmptrld:  vmptrld [kvm_operand]',
    's_vmclear:  vmclear [kvm_operand]',
    's_vmxon:    vmxon [kvm_operand]',
    's_vmlaunch: vmlaunch',
    's_vmresume: vmresume',
    's_wrmsr:    wrmsr',
    's_rdmsr:    rdmsr',
    's_sti:      sti',
    's_cli:      cli',
    's_hlt:      hlt',
    's_iret:     iretq',
    'kvm_operand: .dq 0',
    '        .idt kvm_idt',
    '        .intgate 2, irq_02',
  ];
  for (let v = FIRST_IRQ; v < 256; v++) lines.push(`        .intgate ${v}, irq_${v.toString(16)}`);
  lines.push('irq_02: nop');
  for (let v = FIRST_IRQ; v < 256; v++) lines.push(`irq_${v.toString(16)}: nop`);
  // The SVM side's instructions (KVM on AMD, the Xen model), after the IDT so that the VMX
  // stubs, the operand and the IDT keep the addresses docs/nesting.md gives.
  lines.push(
    's_vmrun:    vmrun',
    's_stgi:     stgi',
    's_clgi:     clgi',
    's_irq_window: sti',
    '            nop',
  );
  return lines.join('\n');
}

const cached = new Map<number, Program>();

/** The stub program assembled at `origin` (KVM's at KVM_HOST.VMX_VMEXIT; Xen's elsewhere). */
export function stubsAt(origin: number): Program {
  let p = cached.get(origin);
  if (p) return p;
  const r = assemble(source(), { origin });
  if (!r.ok) throw new Error(`hypervisor stubs: ${r.errors[0].message} (line ${r.errors[0].line})`);
  p = r.program;
  cached.set(origin, p);
  return p;
}

/** KVM's stub program, assembled once at KVM_HOST.VMX_VMEXIT. */
export function kvmStubs(): Program {
  return stubsAt(KVM_HOST.VMX_VMEXIT);
}

/**
 * Where the Xen model's copy of the same stubs lives above L0: past its VMCB, host save area
 * and permission maps (hypervisors/xen/port.ts XEN_HOST).
 */
export const XEN_STUBS_ORIGIN = 0xa000;

/** The Xen model's stubs above L0 (its VMRUN, CLGI/STGI, MSR accesses, IDT). */
export function xenStubs(): Program {
  return stubsAt(XEN_STUBS_ORIGIN);
}

export type StubName =
  | 's_vmread'
  | 's_vmwrite'
  | 's_vmptrld'
  | 's_vmclear'
  | 's_vmxon'
  | 's_vmlaunch'
  | 's_vmresume'
  | 's_wrmsr'
  | 's_rdmsr'
  | 's_sti'
  | 's_cli'
  | 's_hlt'
  | 's_iret'
  | 's_vmrun'
  | 's_stgi'
  | 's_clgi'
  | 's_irq_window';

export function stubAddr(name: StubName | 'kvm_operand' | 'start' | 'vmx_vmexit', prog = kvmStubs()): number {
  return prog.labels[name];
}

/** The vector whose handler entry is at `rip`, or -1 (not a handler entry). */
export function irqVectorAt(rip: number, prog = kvmStubs()): number {
  const labels = prog.labels;
  if (rip === labels.irq_02) return 2;
  const first = labels[`irq_${FIRST_IRQ.toString(16)}`];
  const v = FIRST_IRQ + (rip - first);
  return rip >= first && v < 256 ? v : -1;
}
