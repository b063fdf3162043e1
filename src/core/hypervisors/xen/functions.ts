// The Xen functions the Xen model is made of: each decision in the trace names one, so the
// explanations can say which function decided and where it lives (paths under xen/, as in
// Xen 4.21 with the vNMI support of 86a203ab8d). Decision records carry XEN_FN_BASE + index,
// which keeps them apart from KVM's function ids (hypervisors/kvm/functions.ts).

export interface XenFunction {
  name: string;
  file: string;
}

/** Decision records of the Xen model have d0 = XEN_FN_BASE + the function's index. */
export const XEN_FN_BASE = 1000;

export const XEN_FUNCTIONS: readonly XenFunction[] = [
  { name: 'svm_cpu_up', file: 'arch/x86/hvm/svm/svm.c' }, // 0: EFER.SVME, VM_HSAVE_PA
  { name: 'construct_vmcb', file: 'arch/x86/hvm/svm/vmcb.c' }, // 1
  { name: 'svm_intr_assist', file: 'arch/x86/hvm/svm/intr.c' }, // 2
  { name: 'svm_asm_do_resume', file: 'arch/x86/hvm/svm/entry.S' }, // 3: CLGI, STI, VMRUN
  { name: 'svm_vmexit_handler', file: 'arch/x86/hvm/svm/svm.c' }, // 4
  { name: 'do_IRQ', file: 'arch/x86/irq.c' }, // 5: a host interrupt taken after STGI
  { name: 'svm_vmexit_do_hlt', file: 'arch/x86/hvm/svm/svm.c' }, // 6: hvm_hlt
  { name: 'svm_do_msr_access', file: 'arch/x86/hvm/svm/svm.c' }, // 7: x2APIC MSRs → vlapic
  { name: 'vlapic_set_irq', file: 'arch/x86/hvm/vlapic.c' }, // 8: an IRQ for the vCPU arrives
  { name: 'vlapic_accept_irq (APIC_DM_NMI)', file: 'arch/x86/hvm/vlapic.c' }, // 9: an NMI for the vCPU
  { name: 'vcpu_unblock', file: 'common/sched/core.c' }, // 10: a blocked (HLT) vCPU wakes
  { name: 'domain_crash', file: 'common/domain.c' }, // 11
  { name: 'svm_vmexit_do_cpuid', file: 'arch/x86/hvm/svm/svm.c' }, // 12
  { name: 'do_nmi', file: 'arch/x86/traps.c' }, // 13: a host NMI taken after STGI
  { name: 'idle_loop', file: 'arch/x86/domain.c' }, // 14: above L0, nothing to run: STI; HLT
  { name: 'svm_stgi_label', file: 'arch/x86/hvm/svm/entry.S' }, // 15: above L0, STGI after the #VMEXIT
] as const;

/** Indexes into XEN_FUNCTIONS (add XEN_FN_BASE for the record). */
export const XenFn = {
  svm_cpu_up: 0,
  construct_vmcb: 1,
  svm_intr_assist: 2,
  svm_asm_do_resume: 3,
  svm_vmexit_handler: 4,
  do_IRQ: 5,
  svm_vmexit_do_hlt: 6,
  svm_do_msr_access: 7,
  vlapic_set_irq: 8,
  vlapic_accept_nmi: 9,
  vcpu_unblock: 10,
  domain_crash: 11,
  svm_vmexit_do_cpuid: 12,
  do_nmi: 13,
  idle_loop: 14,
  svm_stgi_label: 15,
} as const;

/** Whether a decision record's function id is the Xen model's. */
export function isXenFunction(id: number): boolean {
  return id >= XEN_FN_BASE && id < XEN_FN_BASE + XEN_FUNCTIONS.length;
}

export function xenFunction(id: number): XenFunction {
  return XEN_FUNCTIONS[id - XEN_FN_BASE] ?? { name: `function ${id}`, file: '?' };
}

/** Xen's EVENT_CHECK_VECTOR (asm/irq-vectors.h): the IPI vcpu_kick sends to a running vCPU's CPU. */
export const EVENT_CHECK_VECTOR = 0xfc;

/** enum hvm_intsrc (asm/hvm/hvm.h), the sources the model has. */
export const IntSrc = { none: 0, pic: 1, lapic: 2, nmi: 3 } as const;
export const INTSRC_NAMES = ['hvm_intsrc_none', 'hvm_intsrc_pic', 'hvm_intsrc_lapic', 'hvm_intsrc_nmi'];

/** enum hvm_intblk (asm/hvm/hvm.h). */
export const IntBlk = { none: 0, shadow: 1, rflags_ie: 2, tpr: 3, nmi_iret: 4, arch: 5 } as const;
export const INTBLK_NAMES = [
  'hvm_intblk_none',
  'hvm_intblk_shadow',
  'hvm_intblk_rflags_ie',
  'hvm_intblk_tpr',
  'hvm_intblk_nmi_iret',
  'hvm_intblk_arch',
];

/** What svm_intr_assist did, as bits of its DECISION record's d1. */
export const Assist = {
  /** Nothing pending (hvm_vcpu_has_pending_irq: hvm_intsrc_none). */
  NONE: 1,
  /** svm_inject_nmi through EVENTINJ (0x80000202) and the IRET intercept. */
  NMI_EVENTINJ: 2,
  /** svm_inject_nmi with vNMI: V_NMI set, nothing else. */
  NMI_VNMI: 4,
  /** svm_inject_extint: EVENTINJ with the vector. */
  EXTINT: 8,
  /** svm_enable_intr_window: V_IRQ (dummy vector 0) and the VINTR intercept. */
  WINDOW_VINTR: 16,
  /** svm_enable_intr_window for an NMI while the IRET intercept is set: nothing (wait for IRET). */
  WINDOW_IRET: 32,
  /** The event waits because EVENTINJ is still valid (an event being re-injected). */
  EVENTINJ_BUSY: 64,
  /** The vNMI short-circuit: an NMI under V_NMI_MASK is treated as not blocked. */
  SHORT_CIRCUIT: 128,
} as const;
