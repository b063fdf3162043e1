// KVM's instructions above L0: the sensitive instructions the KVM model executes are real
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
    's_vmrun:    vmrun',
    's_stgi:     stgi',
    's_clgi:     clgi',
    's_irq_window: sti',
    '            nop',
    'kvm_operand: .dq 0',
    '        .idt kvm_idt',
    '        .intgate 2, irq_02',
  ];
  for (let v = FIRST_IRQ; v < 256; v++) lines.push(`        .intgate ${v}, irq_${v.toString(16)}`);
  lines.push('irq_02: nop');
  for (let v = FIRST_IRQ; v < 256; v++) lines.push(`irq_${v.toString(16)}: nop`);
  return lines.join('\n');
}

let cached: Program | null = null;

/** KVM's stub program, assembled once at KVM_HOST.VMX_VMEXIT. */
export function kvmStubs(): Program {
  if (cached) return cached;
  const r = assemble(source(), { origin: KVM_HOST.VMX_VMEXIT });
  if (!r.ok) throw new Error(`KVM stubs: ${r.errors[0].message} (line ${r.errors[0].line})`);
  cached = r.program;
  return cached;
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

export function stubAddr(name: StubName | 'kvm_operand' | 'start' | 'vmx_vmexit'): number {
  return kvmStubs().labels[name];
}

/** The vector whose handler entry is at `rip`, or -1 (not a handler entry). */
export function irqVectorAt(rip: number): number {
  const labels = kvmStubs().labels;
  if (rip === labels.irq_02) return 2;
  const first = labels[`irq_${FIRST_IRQ.toString(16)}`];
  const v = FIRST_IRQ + (rip - first);
  return rip >= first && v < 256 ? v : -1;
}
