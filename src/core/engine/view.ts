// What a face of the core (the app, the command line) is shown of a step: plain data,
// derived from the simulation state and the trace. Nothing here is needed to simulate.
import type { SystemRegsView } from './describe-regs';

/** Kinds of trace event. Numeric in the trace columns; named in views and JSON. */
export const EventKind = {
  /** An instruction retired. */
  INSTR: 1,
  /** An event (interrupt, NMI, exception, software interrupt) delivered through an IDT. */
  DELIVER: 2,
  /** IRETQ retired: a return from a handler (kept apart from INSTR for the timeline). */
  IRET: 3,
  /** An external event was raised at a level's interrupt controller. */
  RAISE: 4,
  /** An `assert` retired; data0 = 1 pass, 0 fail. */
  ASSERT: 5,
  /** Time advanced while the CPU was halted, to the next external event. */
  IDLE: 6,
  /** Triple fault: the processor shut down. */
  SHUTDOWN: 7,
  /** HLT left: the CPU became active to take an event. Recorded as part of DELIVER; kept for clarity. */
  WAKE: 8,
  /** VM entry (VMLAUNCH/VMRESUME that entered the guest): d0 = injected interruption info. */
  VMENTRY: 9,
  /** VM exit: d0 = exit reason, d1 = exit interruption info, d2 = IDT-vectoring info. */
  VMEXIT: 10,
  /** A hypervisor model's decision: d0 = function id, d1/d2 = its numbers. */
  DECISION: 11,
  /** A fork's edit of the state by the user (scenario/fork.ts): d0 = edit group, d1 = edits in it. */
  EDIT: 12,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];
export const EVENT_KIND_NAMES: Record<number, string> = {
  1: 'instruction',
  2: 'delivery',
  3: 'iret',
  4: 'raise',
  5: 'assert',
  6: 'idle',
  7: 'shutdown',
  8: 'wake',
  9: 'vmentry',
  10: 'vmexit',
  11: 'decision',
  12: 'edit',
};

/** Interruption types, with the VMX encoding (SDM "Format of Interruption-Information Field"). */
export const EventType = {
  EXTINT: 0,
  NMI: 2,
  HW_EXCEPTION: 3,
  SW_INT: 4,
  PRIV_SW_EXCEPTION: 5,
  SW_EXCEPTION: 6,
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
export const EVENT_TYPE_NAMES: Record<number, string> = {
  0: 'external interrupt',
  2: 'NMI',
  3: 'hardware exception',
  4: 'software interrupt',
  5: 'privileged software exception',
  6: 'software exception',
};

/** One trace event as the faces see it. */
export interface TraceEventView {
  step: number;
  time: number;
  level: number;
  kind: string;
  rip: number;
  /** Kind-specific numbers (vector, type, error code, instruction index, ...), named. */
  data: Record<string, number>;
}

export interface Citation {
  /** e.g. 'SDM Vol. 3A "Interrupt and Exception Handling: Priority Among Concurrent Events"'. */
  source: string;
}

export interface Explanation {
  /** One plain-language line about what happened at this step and why. */
  text: string;
  cite: string | null;
}

export interface RegisterView {
  name: string;
  value: string; // 0x-prefixed, 16 hex digits
}

export interface CpuView {
  regs: RegisterView[];
  rip: number;
  rflags: number;
  /** RFLAGS.IF */
  if: boolean;
  /** RFLAGS.TF */
  tf: boolean;
  /** SDM "Interruptibility State" bits as they stand now. */
  interruptibility: { sti: boolean; movss: boolean; nmi: boolean };
  activity: 'active' | 'hlt' | 'shutdown';
  /**
   * Whether this level's code runs on the processor now. A level that is not running shows
   * the state it will resume with: a host its HOST_RIP/HOST_RSP, a guest its VMCS guest area.
   */
  running: boolean;
  /** 'bare' (no VMX), 'root' (VMX root operation) or 'non-root' (a guest). */
  mode: 'bare' | 'root' | 'non-root';
  /** Virtual-NMI blocking (a guest with "virtual NMIs" = 1). */
  vnmiBlocked: boolean;
  /**
   * Debug exceptions pending as a trap, in the bits of the VMCS pending-debug-exceptions field
   * (BS 0x4000, B3–B0, enabled breakpoint 0x1000); for a resting guest its VMCS field. 0: none.
   */
  pendingDebug?: number;
  /** Events waiting at this CPU: an NMI latched, the APIC's highest pending vector. */
  pending: { nmi: boolean; intr: number | null };
  /** CR0, CR3, CR4, CR8, DR7 and DR6 (engine/describe-regs.ts). */
  system?: SystemRegsView;
  /** Cycles of a `work` left to run (resumes after an interrupt, like a REP string). */
  workRemaining: number;
  tsc: number;
  /** Nesting depth of handlers: how many delivered events have not yet IRETed. */
  handlerDepth: number;
  /** NMI handlers entered and not yet left: 2 means an NMI nested inside another. */
  nmiDepth: number;
}

export interface ApicView {
  irr: number[];
  isr: number[];
  tpr: number;
  ppr: number;
}

export interface LevelView {
  index: number;
  /** e.g. "L0 · bare metal" */
  name: string;
  kind: 'program' | 'guest' | 'kvm' | 'xen';
  cpu: CpuView;
  /**
   * The interrupt controller this level's code sees: the physical APIC for a program level
   * and for the guest it runs (VMX does not virtualize the APIC unless asked to).
   */
  apic: ApicView;
  /** The KVM model's software state, for a level run by KVM (the KVM lane itself). */
  kvm: KvmView | null;
  /**
   * For a level that is not running: the VMCS area its state is shown from ("the host-state
   * area of vmcs12"), or null.
   */
  restingIn: string | null;
  /** On an AMD processor: this level's SVM state (a host: GIF, EFER.SVME, VM_HSAVE_PA; its
   *  guest: GIF or V_GIF with vGIF); absent elsewhere (engine/describe-svm.ts). */
  svm?: LevelSvmView;
  /** 1-based source line of the instruction at RIP, or null when RIP is outside the program. */
  line: number | null;
  /** The instruction text at RIP. */
  nextInstruction: string | null;
}

/** The KVM model's software state, named as in the kernel (struct kvm_vcpu_arch, loaded_vmcs). */
export interface KvmView {
  /** Where KVM is in its run loop. */
  phase: string;
  /** enable_vnmi (kvm_intel.vnmi and the CPU's virtual NMIs). */
  enableVnmi: boolean;
  era: string;
  /** mp_state: halted by an emulated HLT. */
  halted: boolean;
  nmiQueued: number;
  nmiPending: number;
  nmiInjected: boolean;
  /** vcpu->arch.interrupt: an injected IRQ (vector), or null. */
  irqInjected: number | null;
  requests: string[];
  softVnmiBlocked: boolean;
  vnmiBlockedTimeNs: number;
  /** The exit reason KVM handled last (-1 before the first exit). */
  lastExitReason: number;
  hostIrqs: number;
  /** struct nested_vmx: the VMX operation KVM emulates for L1 (null before L1's VMXON). */
  nested: {
    vmxon: boolean;
    currentVmptr: number;
    /** is_guest_mode: L2 runs on vmcs02. */
    guestMode: boolean;
    /** nested_run_pending. */
    runPending: boolean;
    preemptionTimerExpired: boolean;
    /** TSC deadline of the hrtimer emulating vmcs12's preemption timer, or -1. */
    preemptionTimerDeadline: number;
    mtfPending: boolean;
  } | null;
  log: { step: number; text: string }[];
  /** struct vcpu_svm's event state, for KVM on an AMD processor (kvm_amd); null on Intel. */
  svm?: {
    /** kvm_amd.vnmi: V_NMI_ENABLE in vmcb01. */
    vnmi: boolean;
    nmiMasked: boolean;
    awaitingIretCompletion: boolean;
    nmiIretRip: number;
    nmiSinglestep: boolean;
    /** The SVM_EXIT_* name of the exit KVM handled last. */
    lastExit: string;
    /**
     * struct svm_nested_state: the SVM KVM emulates for the level above (null until that level
     * enables SVM: svm_allocate_nested).
     */
    nested: {
      /** The level above's EFER.SVME (vcpu->arch.efer). */
      svme: boolean;
      /** is_guest_mode: the level vmcb12 runs, on vmcb02. */
      guestMode: boolean;
      /** The level vmcb02 runs (L2 for KVM at L0). */
      l2: number;
      runPending: boolean;
      /** The vmcb12 of the last nested VMRUN (svm->nested.last_vmcb12_gpa), 0 before one. */
      vmcb12: number;
      /** svm->nested.hsave_msr: the level above's VM_HSAVE_PA. */
      hsave: number;
      /** gif_set: the level above's GIF (V_GIF of get_vgif_vmcb). */
      gif: boolean;
    } | null;
  } | null;
}

export interface VmcsFieldValue {
  encoding: number;
  name: string;
  value: number;
}

export interface VmcsView {
  addr: number;
  /** The program label at the region's address, if any ("vmcs_region"). */
  label: string | null;
  /** Who made it for whom: "vmcs01" (L0 runs L1), "vmcs02" (L0 runs L2), "vmcs12" (L1 runs L2). */
  role: string;
  launched: boolean;
  current: boolean;
  /** The level that made it (whose VMCS it is). */
  owner: number;
  /** The level it runs. */
  runs: number;
  /** Where it lives: "the processor", or the level that emulates it ("L0 · KVM (its cached copy ...)"). */
  heldBy: string;
  /** For a merged VMCS (vmcs02): where each field came from, by encoding; else null. */
  provenance: Record<number, string> | null;
  /** Every field that has a value, in encoding order. */
  fields: VmcsFieldValue[];
}

export interface VmxView {
  on: boolean;
  nonRoot: boolean;
  /** VMX-preemption timer: remaining value, or null when not running. */
  preemptionTimer: number | null;
  mtfPending: boolean;
  vmcs: VmcsView[];
}

export interface AssertionView {
  step: number;
  level: number;
  line: number;
  passed: boolean;
  /** A `skip "why"` (kvm-unit-tests' report_skip): neither passed nor failed. */
  skipped: boolean;
  message: string;
}

/** An `assert` in a program that the run never executed (a stage it did not reach, or a
 *  failure path it did not take: kvm-unit-tests' report(false) on VMfail, for example). */
export interface UnreachedAssertionView {
  /** The first level that runs the program. */
  level: number;
  line: number;
  message: string;
}

/** limits.expectEnd and whether the run got there (kvm-unit-tests: a test that never finishes
 *  fails). `step` is the first step that executed the label's instruction, or null. */
export interface ExpectedEndView {
  /** The first lane that runs the level's program. */
  level: number;
  label: string;
  line: number;
  reached: boolean;
  step: number | null;
}

/** The processor's SVM state (AMD APM vol. 2 "Secure Virtual Machine"). */
export interface SvmView {
  /** EFER.SVME. */
  enabled: boolean;
  /** The global interrupt flag. */
  gif: boolean;
  /** A guest runs (VMRUN entered it, no #VMEXIT since). */
  guest: boolean;
  vmHsavePa: number;
  /** The running (or last) guest's VMCB address, or -1. */
  vmcb: number;
  /** int_ctl as the processor holds it while the guest runs. */
  intCtl: number;
  /** Every VMCB the run knows, decoded from memory (engine/describe-vmcb.ts); [] before a VMRUN. */
  vmcbs: VmcbView[];
}

/** A level's SVM state as its CPU panel shows it (AMD APM vol. 2 "Global Interrupt Flag"). */
export interface LevelSvmView {
  /** 'host': the level that runs VMRUN; 'guest': the level its VMCB runs. */
  role: 'host' | 'guest';
  /** The global interrupt flag as this level sees it: the processor's GIF (a guest's while it
   *  runs: 1 unless it ran CLGI without vGIF); null for a guest that does not run. */
  gif: boolean | null;
  /** V_GIF_ENABLE in the VMCB that runs this guest (vGIF: its STGI/CLGI write V_GIF). */
  vgifEnabled: boolean;
  /** V_GIF (int_ctl bit 9) of that VMCB: the processor's copy while the guest runs. */
  vgif: boolean;
  /** This level's EFER.SVME (a host that waits: from the host save area at VM_HSAVE_PA). */
  svme: boolean;
  /** VM_HSAVE_PA (MSR C001_0117), for a host. */
  hsavePa: number | null;
}

/** One VMCB field (src/core/svm/vmcb.ts), as the VMCB panel shows it. */
export interface VmcbFieldView {
  /** Linux's member name (`int_ctl`, `idtr.base`). */
  name: string;
  offset: number;
  size: 1 | 2 | 4 | 8;
  area: 'control' | 'save';
  /** The value (exact below 2^53; `hex` is exact for every width). */
  value: number;
  /** 0x-prefixed, padded to the field's width. */
  hex: string;
  /** One line reading it: the set bits by name, the exit code's name, the event ('' if none). */
  summary: string;
  /** The processor holds this field while the guest runs: the value is its copy, not memory's. */
  live?: boolean;
  /** Set when the field changed in this step: its value at the step before. */
  prevValue?: number;
  prevHex?: string;
  /** A merged VMCB (KVM's vmcb02): where the value came from, and the kernel function. */
  from?: string;
}

export interface VmcbView {
  addr: number;
  /** The program label at the VMCB's address, if any ("vmcb"). */
  label: string | null;
  /** Who made it for whom: "vmcb01" (L0 runs L1); hypervisor models add vmcb02, vmcb12. */
  role: string;
  /** The level that made it (in whose memory it is). */
  owner: number;
  /** The level it runs. */
  runs: number;
  /** Where it lives and who uses it ("L0's memory; the processor's last VMRUN"). */
  heldBy: string;
  /** The processor runs a guest from it now (between VMRUN and #VMEXIT). */
  running: boolean;
  /** The processor's last VMRUN used it (SvmState.vmcb). */
  current: boolean;
  /** Whether `prevValue` marks changes (false at step 0 and for a VMCB new in this step). */
  compared: boolean;
  /** Every field of the table, control area then save area, in offset order. */
  fields: VmcbFieldView[];
}

export interface StepView {
  step: number;
  totalSteps: number;
  time: number;
  /** The event that produced this step (null at step 0). */
  event: TraceEventView | null;
  explanation: Explanation;
  levels: LevelView[];
  /** The processor's VMX state and every VMCS it knows (empty outside VMX operation). */
  vmx: VmxView;
  /** The processor's SVM state (EFER.SVME, GIF, the running guest's VMCB); always set by the core (optional for hand-built views). */
  svm?: SvmView;
  /** Assertions recorded up to and including this step. */
  assertions: AssertionView[];
}

export interface LevelInfo {
  index: number;
  name: string;
  kind: 'program' | 'guest' | 'kvm' | 'xen';
  /** The program as written, before `.if` blocks were applied. */
  source: string;
  /** 1-based lines that `.if`/`.else` left out for the current parameters (shown dimmed). */
  inactiveLines: number[];
  /** label → address */
  labels: Record<string, number>;
}

export interface ParamInfo {
  key: string;
  description: string;
  type: 'boolean' | 'number' | 'string';
  value: boolean | number | string;
  choices?: (string | number)[];
  /** Number parameters: the range a value must lie in. */
  min?: number;
  max?: number;
}

export type EndReason = 'halted' | 'shutdown' | 'stopped' | 'step-limit' | 'time-limit' | 'running';

export interface ScenarioInfo {
  name: string;
  title: string;
  description: string;
  arch: 'vmx' | 'svm';
  /** Whether anything in the scenario uses the virtualization extensions (a VMX instruction, a
   *  KVM level): a scenario that does not runs on bare metal only. */
  virtualization: boolean;
  levels: LevelInfo[];
  params: ParamInfo[];
  totalSteps: number;
  endTime: number;
  /** The scenario's TSC rate (features.tscHz), to show cycles as time. */
  tscHz?: number;
  endReason: EndReason;
  assertions: { passed: number; failed: number; skipped: number; notReached: UnreachedAssertionView[] };
  /** limits.expectEnd, when the scenario sets it. */
  expectedEnd: ExpectedEndView | null;
}

/** Timeline columns for drawing: one entry per trace event (or a decimated subset). */
export interface TimelineData {
  totalSteps: number;
  steps: number[];
  times: number[];
  levels: number[];
  kinds: number[];
  /** Vector for deliveries and raises, -1 otherwise. */
  vectors: number[];
  /** Event type for deliveries and raises (EventType), -1 otherwise. */
  types: number[];
}

/** A problem with the user's input or the run, with where it is. */
export interface LabError {
  kind: 'scenario' | 'program' | 'limit' | 'runtime' | 'crash' | 'fork';
  message: string;
  /** A JSON path in the scenario ("levels[0].program") or "L0 line 3, column 5". */
  where: string | null;
  level?: number;
  line?: number;
  column?: number;
}
