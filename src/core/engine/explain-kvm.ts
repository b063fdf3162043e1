// Explanations of the KVM model's decisions: which kernel function decided what, and why.
import { Fn, kvmFunction, LOCAL_TIMER_VECTOR, RESCHEDULE_VECTOR } from '../hypervisors/kvm/functions';
import { Inject } from '../hypervisors/kvm/run-loop';
import { X2APIC, vectorsOf } from '../cpu/apic';
import type { KvmState } from '../hypervisors/kvm/state';
import { hex } from './describe';
import { explainKvmSystem } from './explain-kvm-system';
import { explainKvmSvm } from './explain-kvm-svm';
import { SVM_HANDLERS, svmL0HandlesText } from './explain-kvm-svm-nested';
import { describeIntrInfo, exitName } from './explain-vmx';
import type { Explanation } from './view';
import { fieldByEncoding } from '../vmx/fields';
import { ExitReason } from '../vmx/vm-exit';
import { vmInstructionError } from '../vmx/exit-reasons';

function cite(fn: number): string {
  const f = kvmFunction(fn);
  // Files outside KVM (virt/kvm/kvm_main.c, the host kernel's arch/x86/kernel/irq.c) are
  // given from the tree's root; the rest are relative to arch/x86/kvm/.
  const path = /^(arch|virt)\//.test(f.file) ? f.file : `arch/x86/kvm/${f.file}`;
  return `Linux ${path} ${f.name}()`;
}

const X2APIC_NAMES: Record<number, string> = {
  [X2APIC.TPR]: 'TPR',
  [X2APIC.EOI]: 'EOI',
  [X2APIC.ICR]: 'ICR',
  [X2APIC.SELF_IPI]: 'SELF IPI',
  [X2APIC.ESR]: 'ESR',
  [X2APIC.PPR]: 'PPR',
  [X2APIC.ID]: 'ID',
};

function vectorName(v: number): string {
  if (v === RESCHEDULE_VECTOR) return `${hex(v)} (RESCHEDULE_VECTOR: the IPI kvm_vcpu_kick sent)`;
  if (v === LOCAL_TIMER_VECTOR) return `${hex(v)} (LOCAL_TIMER_VECTOR: the host's timer tick)`;
  return hex(v);
}

function injectText(prevK: KvmState, curK: KvmState, did: number, vector: number): string {
  const k = curK;
  const parts: string[] = [];
  if (did & Inject.REINJECT_NMI)
    parts.push('re-injects the NMI whose delivery the last exit interrupted (re-injection comes first)');
  if (did & Inject.REINJECT_IRQ)
    parts.push(`re-injects IRQ ${hex(vector)} whose delivery the last exit interrupted`);
  if (did & Inject.EXCEPTION)
    parts.push(
      `injects the queued exception, vector ${vector} (VM_ENTRY_INTR_INFO_FIELD type 3), before any NMI or IRQ`,
    );
  if (did & Inject.NMI) {
    parts.push(
      k.enableVnmi
        ? 'vmx_inject_nmi: VM_ENTRY_INTR_INFO_FIELD = 0x80000202; the CPU will set virtual-NMI blocking'
        : "vmx_inject_nmi: VM_ENTRY_INTR_INFO_FIELD = 0x80000202 and, with no virtual NMIs, soft_vnmi_blocked = 1, vnmi_blocked_time = 0: KVM must now guess when the guest's handler ends",
    );
  }
  if (did & Inject.IRQ)
    parts.push(
      `vmx_inject_irq: IRQ ${hex(vector)} (IRR → ISR in the vCPU's APIC), VM_ENTRY_INTR_INFO_FIELD = ${hex(0x80000000 | vector)}`,
    );
  const blockedNmi = prevK.nmiPending > 0 && !(did & Inject.NMI);
  if (did & Inject.NMI_WINDOW_VIA_IRQ)
    parts.push(
      `${blockedNmi ? 'an NMI is pending but NMIs are blocked' : 'another NMI is pending'}: vmx_enable_nmi_window arms the interrupt window instead (${k.enableVnmi ? 'blocking by STI' : 'no virtual NMIs'}), so the next exit with IF=1 ends the wait`,
    );
  if (did & Inject.NMI_WINDOW)
    parts.push(
      `${blockedNmi ? 'an NMI is pending but blocked' : 'another NMI is pending'}: vmx_enable_nmi_window sets NMI-window exiting`,
    );
  if (did & Inject.IRQ_WINDOW)
    parts.push(
      'an IRQ is pending but the guest has interrupts blocked: vmx_enable_irq_window sets interrupt-window exiting',
    );
  if (did & Inject.NESTED_BUSY) {
    const n = prevK.nested;
    const why = n.runPending
      ? "nested_run_pending: L1's VMLAUNCH/VMRESUME has not yet entered L2, and no VM exit may be emulated before it has"
      : 'an event for L1 must wait (L1 intercepts it, or an event is being re-injected)';
    parts.push(
      did & Inject.IMMEDIATE_EXIT
        ? `vmx_check_nested_events returns -EBUSY (${why}): KVM enters L2 and forces an immediate exit, so the event is taken right after the entry`
        : `vmx_check_nested_events returns -EBUSY (${why}); this KVM predates d6185f20 (2011): nothing forces an exit, so the event waits for L2's next exit`,
    );
  } else if (did & Inject.IMMEDIATE_EXIT)
    parts.push(
      'an IRQ is pending but an event is already being injected: -EBUSY, so KVM asks for an immediate exit',
    );
  return parts.length ? parts.join('; ') : 'nothing to inject';
}

export function explainKvm(
  prevK: KvmState,
  curK: KvmState,
  fn: number,
  d1: number,
  d2: number,
  era: 'current' | '2008' = 'current',
  lane = 0,
  arch: 'vmx' | 'svm' = 'vmx',
): Explanation {
  // kvm_amd: SVM's words for the shared x86.c decisions, and svm.c's handlers.
  if (arch === 'svm') {
    let svm = explainKvmSvm(prevK, curK, fn, d1, d2) ?? explainKvmAtL0(prevK, curK, fn, d1, d2, era);
    // An exit of L2 that L0 handles itself: say why it did not go to L1.
    if (prevK.nested.guestMode && SVM_HANDLERS.has(fn))
      svm = { ...svm, text: `${svmL0HandlesText(curK.svm.exitCode)} ${svm.text}` };
    const l2svm =
      curK.nested.l2Lane >= 0
        ? curK.nested.l2Lane
        : prevK.nested.l2Lane >= 0
          ? prevK.nested.l2Lane
          : lane + 2;
    // svm_vcpu_run names the level it ran itself.
    if (fn === Fn.svm_vcpu_run || (lane === 0 && l2svm === 2)) return svm;
    return { ...svm, text: relevel(svm.text, lane, l2svm) };
  }
  if (fn === Fn.vmx_vcpu_run)
    return {
      text: `vmx_vcpu_run: KVM's ${d1 ? 'VMLAUNCH' : 'VMRESUME'} trapped to the level below, which ran L${d2} until an exit of it came back to KVM at its HOST_RIP (KVM runs as a guest itself: its VM entry is emulated).`,
      cite: cite(fn),
    };
  let e = explainKvmAtL0(prevK, curK, fn, d1, d2, era);
  // An exit of L2 that L0 handles itself: say why it did not go to L1.
  if (prevK.nested.guestMode && L0_HANDLES_FOR_L2.has(fn))
    e = {
      ...e,
      text: `L1 does not ask for this exit of L2 in vmcs12 (nested_vmx_l1_wants_exit), so L0 handles it for L2 itself. ${e.text}`,
    };
  // The level the KVM's nested guest is: L(lane+2), or deeper when the level above is KVM too.
  const l2 =
    curK.nested.l2Lane >= 0 ? curK.nested.l2Lane : prevK.nested.l2Lane >= 0 ? prevK.nested.l2Lane : lane + 2;
  return lane === 0 && l2 === 2 ? e : { ...e, text: relevel(e.text, lane, l2) };
}

/** Exit handlers that, in guest mode, run because L1 did not want the exit. */
const L0_HANDLES_FOR_L2 = new Set<number>([
  Fn.kvm_emulate_halt,
  Fn.x2apic_msr_write,
  Fn.x2apic_msr_read,
  Fn.inject_gp,
  Fn.handle_interrupt_window,
  Fn.handle_nmi_window,
  Fn.handle_cr,
  Fn.handle_io,
  Fn.handle_invlpg,
  Fn.handle_rdpmc,
  Fn.handle_wbinvd,
  Fn.handle_monitor,
  Fn.handle_mwait,
  Fn.handle_dr,
  Fn.vmx_set_debugctl,
  Fn.vmx_get_debugctl,
]);

/**
 * The explanations are written for KVM at L0 running L2 through L1 ("L1's VMXON trapped to
 * L0", "vmcs12 merged into vmcs02"); for KVM at Lk whose nested guest is Lm the same words
 * hold with L0 → Lk, L1 → Lk+1, L2 → Lm, vmcs01 → vmcs(k)(k+1), vmcs12 → vmcs(k+1)(m),
 * vmcs02 → vmcs(k)(m).
 */
function relevel(text: string, lane: number, l2: number): string {
  const level = (n: number) => (n === 2 ? l2 : n + lane);
  return text
    .replace(/\bL([0-2])\b/g, (_, n: string) => `L${level(Number(n))}`)
    .replace(
      /\bvmc([sb])([0-2])([0-2])\b/g,
      (_, k: string, a: string, b: string) => `vmc${k}${level(Number(a))}${level(Number(b))}`,
    );
}

function explainKvmAtL0(
  prevK: KvmState,
  curK: KvmState,
  fn: number,
  d1: number,
  d2: number,
  era: 'current' | '2008',
): Explanation {
  const k = curK;
  const name = kvmFunction(fn).name;
  const c = cite(fn);
  const system = explainKvmSystem(k, fn, d1, d2);
  if (system) return { text: system, cite: c };
  switch (fn) {
    case Fn.hardware_enable:
      return {
        text: `hardware_enable: VMXON with the VMXON region at ${hex(d1)}; the processor is in VMX root operation.`,
        cite: c,
      };
    case Fn.vmx_vcpu_create:
      return {
        text: `vmx_vcpu_create → init_vmcs: VMCLEAR and VMPTRLD vmcs01 at ${hex(d1)}; external-interrupt and NMI exiting${k.enableVnmi ? ' with virtual NMIs' : ', no virtual NMIs (enable_vnmi = 0)'}, HLT, CR3, CR8, INVLPG, I/O, MWAIT, MONITOR, RDPMC and WBINVD exiting (no EPT, no TPR shadow), CR0/CR4 owned by KVM but for TS and a few CR4 bits, acknowledge interrupt on exit; the vCPU starts at the guest's entry with IF=0.`,
        cite: c,
      };
    case Fn.process_nmi:
      return {
        text: `process_nmi: nmi_pending = ${d1}${d2 ? `, ${d2} dropped (at most 2 may be pending, 1 while NMIs are masked or one is in flight)` : ''}; KVM_REQ_EVENT.`,
        cite: c,
      };
    case Fn.kvm_check_and_inject_events:
      return { text: `kvm_check_and_inject_events: ${injectText(prevK, curK, d1, d2)}.`, cite: c };
    case Fn.vmx_recover_nmi_blocking:
      if (d2 === 0 && (d1 & 0x80001000) >>> 0 === 0x80001000)
        return {
          text: `vmx_recover_nmi_blocking: the exit (VM_EXIT_INTR_INFO ${hex(d1)}) is for a fault on the guest's IRET, and bit 12 ("NMI unblocking due to IRET") says the processor cleared virtual-NMI blocking before the exit; KVM sets GUEST_INTERRUPTIBILITY_INFO bit 3 again, so that the IRET, restarted, runs with NMIs still blocked.`,
          cite: c,
        };
      return {
        text: `vmx_recover_nmi_blocking: the guest ran ${d1.toLocaleString('en-US')} ns with soft_vnmi_blocked set; vnmi_blocked_time = ${d2.toLocaleString('en-US')} ns (the break-out comes after 1,000,000,000 ns of guest time).`,
        cite: c,
      };
    case Fn.vmx_complete_interrupts:
      return {
        text: `__vmx_complete_interrupts: IDT_VECTORING_INFO_FIELD holds ${describeIntrInfo(d1)}: it was not delivered, so KVM queues it again for re-injection (KVM_REQ_EVENT).`,
        cite: c,
      };
    case Fn.vmx_handle_exit:
      if (d1 === 1)
        return {
          text: "__vmx_handle_exit: soft_vnmi_blocked is set and the guest's interrupts are not blocked (IF=1, no STI or MOV SS shadow): KVM takes this as the end of the NMI handler and clears soft_vnmi_blocked.",
          cite: c,
        };
      return {
        text: `__vmx_handle_exit: ${d2.toLocaleString('en-US')} ns of guest time with NMIs soft-blocked and an NMI pending: "Breaking out of NMI-blocked state on VCPU 0 after 1 s timeout"; soft_vnmi_blocked = 0. ${
          era === '2008'
            ? 'The next entry injects the NMI (in 2008 events were evaluated on every entry).'
            : 'No KVM_REQ_EVENT is raised here, so the NMI stays pending until the next event evaluation (an IRQ window, an emulated HLT, a new event).'
        }`,
        cite: c,
      };
    case Fn.handle_interrupt_window:
      return {
        text: 'handle_interrupt_window: clears interrupt-window exiting and re-evaluates events (KVM_REQ_EVENT).',
        cite: c,
      };
    case Fn.handle_nmi_window:
      return {
        text: 'handle_nmi_window: clears NMI-window exiting and re-evaluates events (KVM_REQ_EVENT).',
        cite: c,
      };
    case Fn.handle_external_interrupt_irqoff:
      return {
        text: `handle_external_interrupt_irqoff: the exit acknowledged vector ${vectorName(d1)}; the host's handler runs and EOIs its APIC.`,
        cite: c,
      };
    case Fn.vmx_do_nmi_irqoff:
      return {
        text: "vmx_do_nmi_irqoff: the NMI that caused the exit goes to the host's NMI handler; its IRET ends the host's NMI blocking.",
        cite: c,
      };
    case Fn.kvm_emulate_halt:
      return {
        text: 'kvm_emulate_halt: HLT exit; KVM skips the HLT (GUEST_RIP += 1) and marks the vCPU halted: it runs again only when an event for it arrives.',
        cite: c,
      };
    case Fn.kvm_vcpu_wake_up:
      return {
        text: 'kvm_vcpu_wake_up: the halted vCPU has an event (an NMI, or an IRQ it can take): it becomes runnable.',
        cite: c,
      };
    case Fn.x2apic_msr_write: {
      const reg = X2APIC_NAMES[d1] ?? hex(d1);
      const isr = vectorsOf(prevK.lapic.isr).filter((v) => !vectorsOf(k.lapic.isr).includes(v));
      const extra = d1 === X2APIC.EOI && isr.length ? `: vector ${hex(isr[0])} leaves the vCPU's ISR` : '';
      return {
        text: `WRMSR exit: KVM emulates the guest's x2APIC ${reg} write (${hex(d2)})${extra}, then skips the instruction.`,
        cite: c,
      };
    }
    case Fn.x2apic_msr_read:
      return {
        text: `RDMSR exit: KVM emulates the read of x2APIC register ${X2APIC_NAMES[d1] ?? hex(d1)} (${hex(d2)}), then skips the instruction.`,
        cite: c,
      };
    case Fn.kvm_emulate_hypercall:
      return {
        text: 'VMCALL exit: kvm_emulate_hypercall returns 0 in RAX and skips the instruction.',
        cite: c,
      };
    case Fn.host_irq:
      return d2 === 1
        ? { text: "An NMI reaches the host in root operation: the host kernel's NMI handler runs.", cite: c }
        : {
            text: `Host interrupt ${vectorName(d1)} arrives while KVM runs in root operation: the host kernel's handler runs and EOIs.`,
            cite: c,
          };
    case Fn.handle_preemption_timer:
      return {
        text: 'handle_preemption_timer: the forced immediate exit came (VMX-preemption timer at 0); nothing else to do.',
        cite: c,
      };
    case Fn.handle_dr:
      if (d2 === 6)
        return {
          text: `MOV DR exit (qualification ${hex(d1)}) for DR${d1 & 7} with the guest's CR4.DE = 1: kvm_require_dr finds no such register and queues #UD.`,
          cite: c,
        };
      return d2
        ? {
            text: `MOV DR exit (qualification ${hex(d1)}) with DR7.GD = 1: the exit came before the general-detect #DB, so handle_dr queues it with payload DR6_BD (DR6.BD is set and DR7.GD cleared when it is injected; if L1 intercepts #DB, BD is the exit qualification) and the MOV runs again after the #DB handler.`,
            cite: c,
          }
        : {
            text: `MOV DR exit (qualification ${hex(d1)}): handle_dr clears MOV-DR exiting (KVM_DEBUGREG_WONT_EXIT) and re-enters at the same MOV, which now runs on the processor's debug registers without an exit.`,
            cite: c,
          };
    case Fn.vmx_sync_dirty_debug_regs:
      return {
        text: `After the exit, vmx_sync_dirty_debug_regs reads the guest's debug registers back (DR7 ${hex(d1)}) and sets MOV-DR exiting again.`,
        cite: c,
      };
    case Fn.vmx_set_debugctl:
      return {
        text: `WRMSR IA32_DEBUGCTL exit: vmx_set_msr keeps the bits KVM supports (none on this processor: BTF and LBR are dropped quietly) in GUEST_IA32_DEBUGCTL (${hex(d1)} written), then skips the instruction.`,
        cite: c,
      };
    case Fn.vmx_get_debugctl:
      return {
        text: `RDMSR IA32_DEBUGCTL exit: vmx_get_msr returns GUEST_IA32_DEBUGCTL (${hex(d1)}), then skips the instruction.`,
        cite: c,
      };
    case Fn.inject_gp:
      return {
        text: `MSR ${hex(d1)} is not one KVM emulates for this guest: kvm_queue_exception injects #GP(0).`,
        cite: c,
      };
    case Fn.handle_vmxon:
    case Fn.handle_vmxoff:
    case Fn.handle_vmclear:
    case Fn.handle_vmptrld:
    case Fn.handle_vmread:
    case Fn.handle_vmwrite:
      return { text: `${name}: ${vmxInstructionText(fn, d1, d2)}`, cite: c };
    case Fn.nested_vmx_run:
      if (d2 === 3) return { text: `nested_vmx_run: ${vmxInstructionText(fn, d1, d2)}`, cite: c };
      if (d1 === 2)
        return {
          text: `nested_vmx_run: L1's VMLAUNCH/VMRESUME fails its checks: ${outcomeText(d2)}${(d2 & 0xff) === 1 ? ' (there is no current vmcs12)' : ''}. Nothing is entered; L1 continues after the instruction.`,
          cite: c,
        };
      return {
        text: `nested_vmx_run: L1's ${d1 ? 'VMLAUNCH' : 'VMRESUME'} passes the checks; nested_run_pending = 1; prepare_vmcs02 merges vmcs12 into vmcs02 (L0's pin controls ORed in, L0's interrupt- and NMI-window bits left in vmcs01) and vmcs02 becomes current${d2 & 0x80000000 ? `; L1's injection ${describeIntrInfo(d2)} goes into vmcs02, for the hardware to deliver at the entry` : ''}.`,
        cite: c,
      };
    case Fn.nested_vmx_reflect_vmexit:
      return {
        text: `nested_vmx_reflect_vmexit: L0 does not keep exit ${exitName(d1)} and L1 asked for it (${l1WantsText(d1)}): nested_vmx_vmexit emulates the exit to L1 — vmcs12 gets L2's state and the exit information, vmcs01 is loaded, and L1 resumes at vmcs12's HOST_RIP with IF = 0.`,
        cite: c,
      };
    case Fn.vmx_check_nested_events: {
      const n = prevK.nested;
      const lost =
        n.runPending && n.l1Injection & 0x80000000
          ? ` This L0 does not wait for the nested entry ("pretend L2 ran"): L2 was never entered, so L1's injection ${describeIntrInfo(n.l1Injection)} is lost — the exit clears its valid bit in vmcs12 and nothing puts it in IDT_VECTORING_INFO_FIELD.`
          : '';
      return {
        text: `vmx_check_nested_events: ${nestedEventText(d1, d2)} nested_vmx_vmexit writes it into vmcs12 (VM_EXIT_REASON ${d1}, VM_EXIT_INTR_INFO ${hex(d2)}), loads vmcs01 and L1's host state (RFLAGS 0x2: IF = 0).${lost}`,
        cite: c,
      };
    }
    case Fn.vmx_preemption_timer_fn:
      return {
        text: `vmx_preemption_timer_fn: the hrtimer that emulates vmcs12's VMX-preemption timer fires: preemption_timer_expired = 1, KVM_REQ_EVENT${d1 ? ', and kvm_vcpu_kick sends the reschedule IPI so the running vCPU exits' : ''}.`,
        cite: c,
      };
    case Fn.nested_vmx_entry_failure:
      return {
        text: `nested_vmx_enter_non_root_mode: vmcs12's guest state fails the VM-entry checks (${k.log[k.log.length - 1]?.text.replace(/^.*invalid guest state: /, '') ?? 'invalid guest state'}): L1 gets exit reason 0x80000021 and resumes at HOST_RIP; only the exit reason and qualification are written.`,
        cite: c,
      };
    case Fn.vmx_get_vmx_msr:
      return {
        text: `RDMSR ${hex(d1)}: vmx_get_vmx_msr returns the VMX capability KVM offers L1 (nested_vmx_setup_ctls_msrs; low half ${hex(d2)}).`,
        cite: c,
      };
    case Fn.kvm_emulate_cpuid:
      return {
        text: "CPUID exit: kvm_emulate_cpuid answers from the guest CPUID table (the processor's, without MONITOR/MWAIT).",
        cite: c,
      };
    case Fn.unexpected_exit:
      return { text: `KVM stops: ${k.log[k.log.length - 1]?.text ?? 'unexpected exit'}.`, cite: c };
    default:
      return { text: `${name}.`, cite: c };
  }
}

const OUTCOMES = [
  'VMsucceed',
  'VMfailInvalid (CF = 1)',
  'VMfailValid (ZF = 1, VM_INSTRUCTION_ERROR in vmcs12)',
  '#UD (L1 has not executed VMXON)',
];

/** An emulated VMX instruction's outcome, d2 = outcome | VM-instruction error << 8. */
function outcomeText(d2: number): string {
  const o = d2 & 0xff;
  const error = d2 >>> 8;
  if (o === 2 && error) {
    const e = vmInstructionError(error);
    return `VMfailValid (ZF = 1): VM_INSTRUCTION_ERROR ${error}${e ? ` (${e.description})` : ''} in vmcs12`;
  }
  return OUTCOMES[o] ?? `outcome ${o}`;
}

function vmxInstructionText(fn: number, d1: number, d2: number): string {
  if (d2 === 3)
    return 'L1 is not in VMX operation (it has not executed VMXON): KVM queues #UD for it, as the processor would raise (nested_vmx_check_permission).';
  const field = fieldByEncoding(d1)?.name ?? hex(d1);
  const ok = (d2 & 0xff) === 0;
  const how = 'trapped (no VMCS shadowing, or a field KVM does not shadow)';
  switch (fn) {
    case Fn.handle_vmxon:
      return ok
        ? `L1's VMXON (region ${hex(d1)}) trapped to L0, which emulates VMX operation for it: VMsucceed.`
        : `L1's VMXON (region ${hex(d1)}) fails: ${outcomeText(d2)} — KVM checks it as the processor would (a 4-KByte aligned region starting with the revision identifier, not already in VMX operation).`;
    case Fn.handle_vmxoff:
      return `L1 leaves its emulated VMX operation: ${outcomeText(d2)}.`;
    case Fn.handle_vmclear:
      return ok
        ? `L1's VMCLEAR of ${hex(d1)}: vmcs12's launch state becomes clear: VMsucceed.`
        : `L1's VMCLEAR of ${hex(d1)} fails: ${outcomeText(d2)}.`;
    case Fn.handle_vmptrld:
      return ok
        ? `L1's VMPTRLD of ${hex(d1)}: it becomes the current vmcs12 (KVM caches it): VMsucceed.`
        : `L1's VMPTRLD of ${hex(d1)} fails: ${outcomeText(d2)}; the current vmcs12 is unchanged.`;
    case Fn.handle_vmread:
      return ok
        ? `L1's VMREAD of ${field} ${how}: KVM reads its cached vmcs12: VMsucceed.`
        : `L1's VMREAD of ${field} ${how} fails: ${outcomeText(d2)}${(d2 & 0xff) === 1 ? ' — there is no current vmcs12' : ''}.`;
    default:
      return ok
        ? `L1's VMWRITE of ${field} ${how}: KVM writes its cached vmcs12: VMsucceed.`
        : `L1's VMWRITE of ${field} ${how} fails: ${outcomeText(d2)}${(d2 & 0xff) === 1 ? ' — there is no current vmcs12' : ''}; nothing is written.`;
  }
}

/** The nested_vmx_l1_wants_exit rule that sent an exit of L2 to L1. */
function l1WantsText(reason: number): string {
  if (reason & 0x80000000) return "a VM-entry failure is always L1's";
  switch (reason & 0xffff) {
    case ExitReason.EXTERNAL_INTERRUPT:
      return 'nested_exit_on_intr: vmcs12 PIN_BASED_EXT_INTR_MASK = 1';
    case ExitReason.INTERRUPT_WINDOW:
      return 'vmcs12 CPU_BASED_INTR_WINDOW_EXITING = 1';
    case ExitReason.NMI_WINDOW:
      return 'vmcs12 CPU_BASED_NMI_WINDOW_EXITING = 1';
    case ExitReason.HLT:
      return 'vmcs12 CPU_BASED_HLT_EXITING = 1';
    case ExitReason.MSR_READ:
    case ExitReason.MSR_WRITE:
      return "vmcs12's MSR bitmap (or no MSR bitmaps) intercepts the MSR";
    case ExitReason.EXCEPTION_NMI:
      return "vmcs12's EXCEPTION_BITMAP has the vector";
    case ExitReason.MTF:
      return 'nested_vmx_exit_handled_mtf: vmcs12 CPU_BASED_MONITOR_TRAP_FLAG = 1, or L1 injected the pending MTF exit (type 7)';
    case ExitReason.DR_ACCESS:
      return 'vmcs12 CPU_BASED_MOV_DR_EXITING = 1';
    default:
      return 'an exit L1 always handles (VMCALL, the VMX instructions, CPUID, a triple fault, invalid guest state)';
  }
}

function nestedEventText(reason: number, info: number): string {
  switch (reason) {
    case ExitReason.EXTERNAL_INTERRUPT:
      return info & 0x80000000
        ? `an interrupt for L1 (vector ${hex(info & 0xff)}) while L2 runs, and L1 intercepts interrupts with "acknowledge interrupt on exit": KVM takes the highest vector of L1's APIC for VM_EXIT_INTR_INFO and, after the exit, moves it from IRR to ISR (nested_exit_intr_ack_set).`
        : 'an interrupt for L1 while L2 runs, and L1 intercepts interrupts (nested_exit_on_intr) without "acknowledge interrupt on exit": an external-interrupt exit with no vector; the interrupt stays in L1\'s IRR until L1 enables interrupts.';
    case ExitReason.EXCEPTION_NMI:
      return (info & 0x7ff) === 0x202
        ? "an NMI for L1 while L2 runs, and L1 exits on NMIs: the exit counts as its injection (nmi_pending = 0, L1's NMIs blocked)."
        : "an exception for L2 that vmcs12's exception bitmap intercepts.";
    case ExitReason.PREEMPTION_TIMER:
      return "vmcs12's VMX-preemption timer expired (nested_vmx_preemption_timer_pending).";
    case ExitReason.MTF:
      return "an instruction KVM emulated for L2 completes under vmcs12's monitor trap flag.";
    default:
      return `exit ${reason}.`;
  }
}
