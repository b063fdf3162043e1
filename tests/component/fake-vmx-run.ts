// A canned VMX run for the component tests, shaped like soft-vnmi: KVM at L0 runs a guest
// kernel at L1 with vmcs01. KVM injects an NMI, the guest exits for an interrupt window,
// KVM arms NMI-window exiting, and the guest exits again with reason 8. Each step is a full
// StepView (levels with cpu.running / mode, the KVM lane's state, every VMCS field).
import {
  EVENT_KIND_NAMES,
  EventKind,
  type CpuView,
  type KvmView,
  type LevelView,
  type StepView,
  type TraceEventView,
  type VmcsView,
} from '../../src/core/engine/view';
import { fieldByName } from '../../src/core/vmx';
import type { CannedRun } from './fake-run-builder';

export const GUEST_PROGRAM = [
  '; L1: a guest kernel with an NMI handler.',
  '        .intgate 2, nmi_handler',
  'start:',
  '        sti',
  '        work 400000',
  '        hlt',
  'nmi_handler:',
  '        inc qword [nmi_count]',
  '        iretq',
];

interface Spec {
  kind: number;
  level: number;
  data?: Record<string, number>;
  text: string;
  /** The level that runs after this step. */
  running: 0 | 1;
  vmcs?: Record<string, number>;
  kvm?: Partial<KvmView>;
  guest?: { line: number; rip: number; nmiBlocking?: boolean; nmiDepth?: number };
}

const VMCS_START: Record<string, number> = {
  PIN_BASED_VM_EXEC_CONTROL: 0x9,
  CPU_BASED_VM_EXEC_CONTROL: 0x80,
  VM_ENTRY_INTR_INFO_FIELD: 0,
  VM_EXIT_REASON: 0,
  VM_EXIT_INTR_INFO: 0,
  IDT_VECTORING_INFO_FIELD: 0,
  GUEST_INTERRUPTIBILITY_INFO: 0,
  GUEST_ACTIVITY_STATE: 0,
  GUEST_RIP: 0x1000,
  GUEST_RFLAGS: 0x2,
  HOST_RIP: 0x3000,
  EXCEPTION_BITMAP: 0x60000,
  VM_EXIT_CONTROLS: 0x8200,
  GUEST_RSP: 0x10000,
  HOST_RSP: 0x8000,
};

const KVM_START: KvmView = {
  phase: 'vcpu_enter_guest',
  enableVnmi: false,
  era: 'current',
  halted: false,
  nmiQueued: 0,
  nmiPending: 1,
  nmiInjected: false,
  irqInjected: null,
  requests: ['KVM_REQ_EVENT'],
  softVnmiBlocked: false,
  vnmiBlockedTimeNs: 0,
  lastExitReason: -1,
  hostIrqs: 0,
  nested: null,
  log: [],
};

export const VMX_STEPS: Spec[] = [
  {
    kind: EventKind.DECISION,
    level: 0,
    data: { function: 3, a: 4, b: 0 },
    text: 'kvm_check_and_inject_events: vmx_inject_nmi: VM_ENTRY_INTR_INFO_FIELD = 0x80000202.',
    running: 0,
    vmcs: { VM_ENTRY_INTR_INFO_FIELD: 0x80000202 },
    kvm: {
      nmiPending: 0,
      nmiInjected: true,
      softVnmiBlocked: true,
      requests: [],
      phase: 'kvm_check_and_inject_events',
    },
  },
  {
    kind: EventKind.VMENTRY,
    level: 0,
    data: { injected: 0x80000202, launch: 0, guestRip: 0x1010 },
    text: 'VM entry (VMRESUME) into L1: the injected NMI was delivered through the guest IDT.',
    running: 1,
    vmcs: { GUEST_RIP: 0x1010 },
    kvm: { phase: 'in the guest' },
    guest: { line: 8, rip: 0x1010, nmiBlocking: true, nmiDepth: 1 },
  },
  {
    kind: EventKind.INSTR,
    level: 1,
    data: { instruction: 6 },
    text: 'Retired `inc qword [nmi_count]`.',
    running: 1,
    guest: { line: 9, rip: 0x1017, nmiBlocking: true, nmiDepth: 1 },
  },
  {
    kind: EventKind.VMEXIT,
    level: 1,
    data: { reason: 7, intrInfo: 0, vectoringInfo: 0 },
    text: 'VM exit, reason 7 (INTERRUPT_WINDOW).',
    running: 0,
    vmcs: { VM_EXIT_REASON: 7, VM_ENTRY_INTR_INFO_FIELD: 0x202, GUEST_RIP: 0x1017, GUEST_RFLAGS: 0x202 },
    kvm: { phase: 'after a VM exit', lastExitReason: 7, vnmiBlockedTimeNs: 250_000_000 },
    guest: { line: 9, rip: 0x1017, nmiBlocking: true, nmiDepth: 1 },
  },
  {
    kind: EventKind.DECISION,
    level: 0,
    data: { function: 8, a: 0, b: 0 },
    text: 'vmx_enable_nmi_window: NMI-window exiting armed.',
    running: 0,
    vmcs: { CPU_BASED_VM_EXEC_CONTROL: 0x400080 },
    kvm: {
      phase: 'kvm_check_and_inject_events',
      requests: ['KVM_REQ_NMI'],
      log: [{ step: 5, text: 'Breaking out of NMI-blocked state on VCPU 0 after 1 s timeout' }],
    },
    guest: { line: 9, rip: 0x1017, nmiBlocking: true, nmiDepth: 1 },
  },
  {
    kind: EventKind.VMENTRY,
    level: 0,
    data: { injected: 0x202, launch: 0, guestRip: 0x1017 },
    text: 'VM entry (VMRESUME) into L1.',
    running: 1,
    guest: { line: 9, rip: 0x1017, nmiBlocking: true, nmiDepth: 2 },
  },
  {
    kind: EventKind.VMEXIT,
    level: 1,
    data: { reason: 8, intrInfo: 0, vectoringInfo: 0 },
    text: 'VM exit, reason 8 (NMI_WINDOW).',
    running: 0,
    vmcs: { VM_EXIT_REASON: 8 },
    kvm: { phase: 'after a VM exit', lastExitReason: 8 },
    guest: { line: 5, rip: 0x1001 },
  },
];

function cpu(level: number, running: boolean, g: Spec['guest'] | undefined): CpuView {
  const guest = level === 1;
  return {
    regs: ['rax', 'rbx', 'rsp'].map((name) => ({ name, value: '0x' + '0'.repeat(16) })),
    rip: guest ? (g?.rip ?? 0x1000) : 0x3000,
    rflags: 0x2,
    if: false,
    tf: false,
    interruptibility: { sti: false, movss: false, nmi: guest && !!g?.nmiBlocking },
    activity: 'active',
    running,
    mode: guest ? 'non-root' : 'root',
    vnmiBlocked: false,
    pending: { nmi: false, intr: null },
    workRemaining: 0,
    tsc: 0,
    handlerDepth: g?.nmiDepth ?? 0,
    nmiDepth: guest ? (g?.nmiDepth ?? 0) : 0,
  };
}

function vmcsView(values: Record<string, number>): VmcsView {
  const fields = Object.entries(values)
    .map(([name, value]) => ({ name, value, encoding: fieldByName(name)!.encoding }))
    .sort((a, b) => a.encoding - b.encoding);
  return {
    addr: 0x2000,
    label: null,
    role: 'vmcs01',
    launched: true,
    current: true,
    owner: 0,
    runs: 1,
    heldBy: 'the processor',
    provenance: null,
    fields,
  };
}

function levels(running: 0 | 1, kvm: KvmView, g: Spec['guest'] | undefined): LevelView[] {
  return [
    {
      index: 0,
      name: 'L0 · KVM',
      kind: 'kvm',
      cpu: cpu(0, running === 0, undefined),
      apic: { irr: [], isr: [], tpr: 0, ppr: 0 },
      kvm: structuredClone(kvm),
      restingIn: running === 0 ? null : 'the host-state area of vmcs01',
      line: null,
      nextInstruction: null,
    },
    {
      index: 1,
      name: 'L1 · guest kernel',
      kind: 'guest',
      cpu: cpu(1, running === 1, g),
      apic: { irr: [], isr: [], tpr: 0, ppr: 0 },
      restingIn: running === 1 ? null : 'the guest-state area of vmcs01',
      kvm: null,
      line: g?.line ?? 4,
      nextInstruction: GUEST_PROGRAM[(g?.line ?? 4) - 1].trim(),
    },
  ];
}

/** The run: 7 steps, an NMI injected, an interrupt-window exit, then an NMI-window exit. */
export function vmxRun(): CannedRun {
  let values = { ...VMCS_START };
  let kvm = { ...KVM_START };
  const total = VMX_STEPS.length;
  const vmx = (v: Record<string, number>, nonRoot: boolean) => ({
    on: true,
    nonRoot,
    preemptionTimer: null,
    mtfPending: false,
    vmcs: [vmcsView(v)],
  });
  const views: StepView[] = [
    {
      step: 0,
      totalSteps: total,
      time: 0,
      event: null,
      explanation: { text: 'KVM is about to enter the guest.', cite: null },
      levels: levels(0, kvm, undefined),
      vmx: vmx(values, false),
      assertions: [],
    },
  ];
  const events: TraceEventView[] = [];
  let guest: Spec['guest'];
  VMX_STEPS.forEach((spec, i) => {
    const step = i + 1;
    values = { ...values, ...spec.vmcs };
    kvm = { ...kvm, ...spec.kvm };
    guest = spec.guest ?? guest;
    const event: TraceEventView = {
      step,
      time: step * 100,
      level: spec.level,
      kind: EVENT_KIND_NAMES[spec.kind],
      rip: 0,
      data: spec.data ?? {},
    };
    events.push(event);
    views.push({
      step,
      totalSteps: total,
      time: step * 100,
      event,
      explanation: { text: spec.text, cite: null },
      levels: levels(spec.running, kvm, guest),
      vmx: vmx(values, spec.running === 1),
      assertions: [],
    });
  });
  return { views, events };
}
