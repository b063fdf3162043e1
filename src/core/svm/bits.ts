// Bits of the VMCB's control words, named as Linux's arch/x86/include/asm/svm.h names them:
// int_ctl (every bit, facts §2.3), int_state, EVENTINJ / EXITINTINFO (§2.4) and the intercept
// vectors (enum INTERCEPT_*: word·32 + bit, §2.2). AMD APM vol. 2 "Secure Virtual Machine".

/** int_ctl (VMCB 0x60), "Virtual Interrupt Control". */
export const INT_CTL = {
  V_TPR_MASK: 0x0f,
  V_IRQ_MASK: 1 << 8,
  V_GIF_MASK: 1 << 9,
  V_NMI_PENDING_MASK: 1 << 11,
  V_NMI_BLOCKING_MASK: 1 << 12,
  V_INTR_PRIO_MASK: 0xf << 16,
  V_IGN_TPR_MASK: 1 << 20,
  V_INTR_MASKING_MASK: 1 << 24,
  V_GIF_ENABLE_MASK: 1 << 25,
  V_NMI_ENABLE_MASK: 1 << 26,
  X2APIC_MODE_MASK: 1 << 30,
  AVIC_ENABLE_MASK: 2 ** 31,
} as const;

export const V_INTR_PRIO_SHIFT = 16;

/** int_state (VMCB 0x68). */
export const INT_STATE = {
  SVM_INTERRUPT_SHADOW_MASK: 1,
  SVM_GUEST_INTERRUPT_MASK: 2,
} as const;

/** EVENTINJ (0xA8) and EXITINTINFO (0x88) share one format. */
export const EVTINJ = {
  SVM_EVTINJ_VEC_MASK: 0xff,
  SVM_EVTINJ_TYPE_MASK: 7 << 8,
  SVM_EVTINJ_TYPE_INTR: 0 << 8,
  SVM_EVTINJ_TYPE_NMI: 2 << 8,
  SVM_EVTINJ_TYPE_EXEPT: 3 << 8,
  SVM_EVTINJ_TYPE_SOFT: 4 << 8,
  SVM_EVTINJ_VALID_ERR: 1 << 11,
  SVM_EVTINJ_VALID: 2 ** 31,
} as const;

/** EVENTINJ types (bits 10:8); 1, 5, 6, 7 are reserved. */
export const SvmEventType = { INTR: 0, NMI: 2, EXCEPTION: 3, SOFT_INT: 4 } as const;

/**
 * The intercept bits as Linux's enum INTERCEPT_* numbers them: word·32 + bit (vector 0 is the
 * CR reads and writes, 1 the DR ones, 2 the exceptions, 3 and 4 the instructions and events).
 */
export const INTERCEPT = {
  INTERCEPT_CR0_READ: 0,
  INTERCEPT_CR3_READ: 3,
  INTERCEPT_CR4_READ: 4,
  INTERCEPT_CR8_READ: 8,
  INTERCEPT_CR0_WRITE: 16,
  INTERCEPT_CR3_WRITE: 16 + 3,
  INTERCEPT_CR4_WRITE: 16 + 4,
  INTERCEPT_CR8_WRITE: 16 + 8,
  INTERCEPT_DR0_READ: 32,
  INTERCEPT_DR7_READ: 32 + 7,
  INTERCEPT_DR0_WRITE: 48,
  INTERCEPT_DR7_WRITE: 48 + 7,
  INTERCEPT_EXCEPTION_OFFSET: 64,
  INTERCEPT_INTR: 96,
  INTERCEPT_NMI: 97,
  INTERCEPT_SMI: 98,
  INTERCEPT_INIT: 99,
  INTERCEPT_VINTR: 100,
  INTERCEPT_SELECTIVE_CR0: 101,
  INTERCEPT_STORE_IDTR: 102,
  INTERCEPT_STORE_GDTR: 103,
  INTERCEPT_STORE_LDTR: 104,
  INTERCEPT_STORE_TR: 105,
  INTERCEPT_LOAD_IDTR: 106,
  INTERCEPT_LOAD_GDTR: 107,
  INTERCEPT_LOAD_LDTR: 108,
  INTERCEPT_LOAD_TR: 109,
  INTERCEPT_RDTSC: 110,
  INTERCEPT_RDPMC: 111,
  INTERCEPT_PUSHF: 112,
  INTERCEPT_POPF: 113,
  INTERCEPT_CPUID: 114,
  INTERCEPT_RSM: 115,
  INTERCEPT_IRET: 116,
  INTERCEPT_INTn: 117,
  INTERCEPT_INVD: 118,
  INTERCEPT_PAUSE: 119,
  INTERCEPT_HLT: 120,
  INTERCEPT_INVLPG: 121,
  INTERCEPT_INVLPGA: 122,
  INTERCEPT_IOIO_PROT: 123,
  INTERCEPT_MSR_PROT: 124,
  INTERCEPT_TASK_SWITCH: 125,
  INTERCEPT_FERR_FREEZE: 126,
  INTERCEPT_SHUTDOWN: 127,
  INTERCEPT_VMRUN: 128,
  INTERCEPT_VMMCALL: 129,
  INTERCEPT_VMLOAD: 130,
  INTERCEPT_VMSAVE: 131,
  INTERCEPT_STGI: 132,
  INTERCEPT_CLGI: 133,
  INTERCEPT_SKINIT: 134,
  INTERCEPT_RDTSCP: 135,
  INTERCEPT_ICEBP: 136,
  INTERCEPT_WBINVD: 137,
  INTERCEPT_MONITOR: 138,
  INTERCEPT_MWAIT: 139,
  INTERCEPT_MWAIT_COND: 140,
  INTERCEPT_XSETBV: 141,
  INTERCEPT_RDPRU: 142,
} as const;

/** The mask of an INTERCEPT_* bit within its 32-bit intercept word. */
export function interceptMask(bit: number): number {
  return 2 ** (bit % 32);
}

/** The VMCB offset of the intercept word holding an INTERCEPT_* bit. */
export function interceptOffset(bit: number): number {
  return Math.floor(bit / 32) * 4;
}

/** EFER (MSR C000_0080) bits the lab models; SVME enables the SVM instructions. */
export const EFER = { SCE: 1, LME: 1 << 8, LMA: 1 << 10, NXE: 1 << 11, SVME: 1 << 12 } as const;
/** EFER bits that exist (the rest are reserved: writing one is #GP, a VMCB with one fails VMRUN). */
export const EFER_VALID =
  EFER.SCE | EFER.LME | EFER.LMA | EFER.NXE | EFER.SVME | (1 << 13) | (1 << 14) | (1 << 15);

export const MSR_EFER = 0xc0000080;
export const MSR_VM_HSAVE_PA = 0xc0010117;
/** VM_CR (C001_0114): bit 4 SVMDIS (0 here: SVM may be enabled). */
export const MSR_VM_CR = 0xc0010114;

/** The lab's EFER after start-up: LME | LMA (64-bit mode) | NXE, SVME off. */
export const EFER_INITIAL = EFER.LME | EFER.LMA | EFER.NXE;
