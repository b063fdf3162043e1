// The architectural state of one logical processor, as plain data (typed arrays and numbers)
// so that it can be cloned for checkpoints and sent to the worker's page.

/** RFLAGS bits (SDM Vol. 1 "EFLAGS Register"). */
export const RFLAGS = {
  CF: 1 << 0,
  FIXED: 1 << 1, // reserved, always 1
  PF: 1 << 2,
  AF: 1 << 4,
  ZF: 1 << 6,
  SF: 1 << 7,
  TF: 1 << 8,
  IF: 1 << 9,
  DF: 1 << 10,
  OF: 1 << 11,
  NT: 1 << 14,
  RF: 1 << 16,
} as const;
export const ARITH_FLAGS = RFLAGS.CF | RFLAGS.PF | RFLAGS.AF | RFLAGS.ZF | RFLAGS.SF | RFLAGS.OF;
/** Bits POPF/IRETQ may change at CPL 0 (VM, VIF, VIP, IOPL are outside this lab's model). */
export const WRITABLE_FLAGS = ARITH_FLAGS | RFLAGS.TF | RFLAGS.IF | RFLAGS.DF | RFLAGS.NT | RFLAGS.RF;

/** Bits of the interrupt shadow (SDM "Interruptibility State", the same bits as the VMCS field). */
export const Shadow = { STI: 1, MOVSS: 2 } as const;

/** Activity state (SDM "Guest Non-Register State": 0 active, 1 HLT, 2 shutdown). */
export const Activity = { ACTIVE: 0, HLT: 1, SHUTDOWN: 2 } as const;
export type Activity = (typeof Activity)[keyof typeof Activity];

/** Flat 64-bit code and stack segments of a 64-bit kernel: the selectors pushed in a frame. */
export const KERNEL_CS = 0x08;
export const KERNEL_SS = 0x10;

/** CR0 bits (SDM Vol. 3A "Control Registers"). */
export const CR0 = {
  PE: 1 << 0,
  MP: 1 << 1,
  EM: 1 << 2,
  TS: 1 << 3,
  ET: 1 << 4,
  NE: 1 << 5,
  WP: 1 << 16,
  AM: 1 << 18,
  NW: 1 << 29,
  CD: 1 << 30,
  PG: 2 ** 31,
} as const;

/** CR4 bits the lab names (SDM Vol. 3A "Control Registers"). */
export const CR4 = {
  /** Debugging extensions: DR4/DR5 do not alias DR6/DR7 (MOV DR4/DR5 raises #UD). */
  DE: 1 << 3,
  PAE: 1 << 5,
  PGE: 1 << 7,
  PCE: 1 << 8,
  VMXE: 1 << 13,
  PCIDE: 1 << 17,
} as const;

/**
 * The lab runs a 64-bit kernel, as kvm-unit-tests' x86_64 start-up leaves it: CR0 = PG | WP |
 * NE | ET | MP | PE, CR4 = PAE | VMXE (VMX enabled, so that VMXON may run), CR3 = 0 (there
 * are no page tables in the model). docs/model.md "Choices the lab makes".
 */
export const CR0_INITIAL = (CR0.PG + CR0.WP + CR0.NE + CR0.ET + CR0.MP + CR0.PE) >>> 0;
export const CR4_INITIAL = CR4.PAE | CR4.VMXE;

export interface CpuState {
  /** General registers as 32-bit halves: regs[2r] low, regs[2r+1] high (register r in REG64 order). */
  regs: Uint32Array;
  rip: number;
  rflags: number;
  ss: number;
  /** IDTR base: the IDT that events are delivered through (limit 0xFFF: 256 gates). */
  idtr: number;
  /** Interrupt shadow in effect at the next instruction boundary (Shadow bits). */
  shadow: number;
  /** Blocking by NMI: set by NMI delivery, cleared by the next IRET (SDM "NMI Handling"). */
  nmiBlocked: boolean;
  /**
   * Virtual-NMI blocking, in VMX non-root operation with "virtual NMIs" = 1: set by injecting
   * an NMI, cleared by the guest's IRET (SDM "Changes to Instruction Behavior in VMX Non-Root
   * Operation").
   */
  vnmiBlocked: boolean;
  activity: Activity;
  /** An NMI latched at the processor and not yet delivered. */
  nmiPending: boolean;
  /** A single-step #DB trap is due at the next boundary (TF was 1 when the last instruction began). */
  dbTrapPending: boolean;
  /**
   * Other debug exceptions pending as traps, in the bits of the VMCS pending-debug-exceptions
   * field: B3–B0 (bits 3:0) and "enabled breakpoint" (bit 12), as a VM entry loads them from
   * GUEST_PENDING_DBG_EXCEPTIONS (SDM "Delivery of Pending Debug Exceptions after VM Entry").
   * Single-step (BS) stays in dbTrapPending.
   */
  dbPending: number;
  /**
   * Debug registers DR0–DR7 as 32-bit halves: dr[2n] low, dr[2n+1] high (DR4/DR5 slots unused:
   * they alias DR6/DR7, CR4.DE being 0). SDM Vol. 3B "Debug Registers".
   */
  dr: Uint32Array;
  /** IA32_DEBUGCTL (MSR 1D9H), low half: bit 0 LBR (kept, no effect), bit 1 BTF. */
  debugctl: number;
  /** Cycles left of an interrupted `work` (it resumes like a REP string instruction). */
  workRemaining: number;
  /** Saved `workRemaining` of interrupted works, as [frame RSP, remaining] pairs. */
  workStack: number[];
  /** Handler frames delivered and not yet left by IRET, as [frame RSP, vector, type] triples. */
  frames: number[];
  /** Deepest NMI nesting seen (two NMI frames at once is a nested NMI). */
  maxNmiDepth: number;
  /** Control registers CR0, CR3, CR4 (CR8 is the APIC's TPR[7:4]); see cpu/control-regs.ts. */
  cr0: number;
  cr3: number;
  cr4: number;
  /** MONITOR armed an address range; the next MWAIT waits only then (SDM "MWAIT"). */
  monitorArmed: boolean;
  /** The MWAIT the processor waits in was given ECX[0] = 1: interrupts break it even when IF = 0. */
  mwaitBreak: boolean;
  /**
   * The HLT activity state was entered by MWAIT, not HLT: a VM exit saves the active state for
   * it ("this VMCS field never reflects this state", SDM "Guest Non-Register State").
   */
  inMwait: boolean;
  /** RDRAND values produced so far: the next value is a function of it, so runs replay exactly. */
  rdrandCount: number;
}

/** DR6 and DR7 at reset (SDM "Debug Registers"): DR6 FFFF0FF0H, DR7 400H. */
export const DR6_INIT = 0xffff0ff0;
export const DR7_INIT = 0x400;

function initialDr(): Uint32Array {
  const dr = new Uint32Array(16);
  dr[12] = DR6_INIT;
  dr[14] = DR7_INIT;
  return dr;
}

export function createCpu(): CpuState {
  return {
    regs: new Uint32Array(32),
    rip: 0,
    rflags: RFLAGS.FIXED,
    ss: KERNEL_SS,
    idtr: 0,
    shadow: 0,
    nmiBlocked: false,
    vnmiBlocked: false,
    activity: Activity.ACTIVE,
    nmiPending: false,
    dbTrapPending: false,
    dbPending: 0,
    dr: initialDr(),
    debugctl: 0,
    workRemaining: 0,
    workStack: [],
    frames: [],
    maxNmiDepth: 0,
    cr0: CR0_INITIAL,
    cr3: 0,
    cr4: CR4_INITIAL,
    monitorArmed: false,
    mwaitBreak: false,
    inMwait: false,
    rdrandCount: 0,
  };
}

export function cloneCpu(c: CpuState): CpuState {
  return {
    ...c,
    regs: c.regs.slice(),
    dr: c.dr.slice(),
    workStack: c.workStack.slice(),
    frames: c.frames.slice(),
  };
}

export const RSP = 4;

/** The register as a JS number (exact below 2^53; used for addresses and counts). */
export function regNumber(c: CpuState, r: number): number {
  return c.regs[2 * r + 1] * 0x100000000 + c.regs[2 * r];
}

export function setRegNumber(c: CpuState, r: number, v: number): void {
  c.regs[2 * r] = v >>> 0;
  c.regs[2 * r + 1] = Math.floor(v / 0x100000000) >>> 0;
}

/** Depth of NMI handler frames currently on the stack. */
export function nmiDepth(c: CpuState): number {
  let d = 0;
  for (let i = 0; i < c.frames.length; i += 3) if (c.frames[i + 2] === 2) d++;
  return d;
}

/** What the lab keeps per execution context beside the architectural state (views only). */
export interface ContextBook {
  frames: number[];
  workStack: number[];
  workRemaining: number;
  maxNmiDepth: number;
}

export function emptyBook(): ContextBook {
  return { frames: [], workStack: [], workRemaining: 0, maxNmiDepth: 0 };
}

/** Swap the processor's bookkeeping for another context's (at VM entry and VM exit). */
export function swapBook(c: CpuState, save: ContextBook, load: ContextBook): void {
  save.frames = c.frames;
  save.workStack = c.workStack;
  save.workRemaining = c.workRemaining;
  save.maxNmiDepth = c.maxNmiDepth;
  c.frames = load.frames;
  c.workStack = load.workStack;
  c.workRemaining = load.workRemaining;
  c.maxNmiDepth = load.maxNmiDepth;
}
