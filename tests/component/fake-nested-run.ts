// A canned nested run for the component tests, shaped like nested-intr: KVM at L0 emulates VMX
// for a hypervisor at L1 whose guest is L2. L1's VMWRITE and VMREAD trap to L0 (round trips
// the timeline folds), L1's VMLAUNCH becomes nested_vmx_run (vmcs02 appears, with where each
// field came from), L2 runs, an interrupt for L1 exits L2 to L0, and vmx_check_nested_events
// emulates an external-interrupt exit (reason 1) to L1. Three lanes, every VMCS, KVM's
// nested_vmx state and each level's resting VMCS area.
import {
  EVENT_KIND_NAMES,
  EventKind,
  type KvmView,
  type LevelView,
  type StepView,
  type TraceEventView,
  type VmcsView,
} from '../../src/core/engine/view';
import { Fn } from '../../src/core/hypervisors/kvm/functions';
import { fieldByName } from '../../src/core/vmx';
import type { CannedRun } from './fake-run-builder';

export const L1_PROGRAM = [
  '; L1: a hypervisor that launches L2.',
  'start:  vmwrite GUEST_RIP, rax',
  '        vmread rax, VM_EXIT_REASON',
  '        vmlaunch',
  'exit:   vmread rax, VM_EXIT_REASON',
  '        hlt',
  'l2:     work 100000',
];

type Fields = Record<string, number>;
type Nested = NonNullable<KvmView['nested']>;

interface Spec {
  kind: number;
  level: 0 | 1 | 2;
  data?: Record<string, number>;
  text: string;
  /** The level that runs after this step. */
  running: 0 | 1 | 2;
  vmcs01?: Fields;
  vmcs02?: Fields;
  vmcs12?: Fields;
  nested?: Partial<Nested>;
}

const decision = (fn: number, a = 0, b = 0) => ({ function: fn, a, b });

export const NESTED_STEPS: Spec[] = [
  {
    kind: EventKind.VMEXIT,
    level: 1,
    data: { reason: 25, intrInfo: 0, vectoringInfo: 0 },
    text: 'VM exit, reason 25 (VMWRITE).',
    running: 0,
    vmcs01: { VM_EXIT_REASON: 25 },
  },
  {
    kind: EventKind.DECISION,
    level: 0,
    data: decision(Fn.handle_vmwrite),
    text: 'handle_vmwrite: L1’s VMWRITE of GUEST_RIP trapped.',
    running: 0,
    vmcs12: { GUEST_RIP: 0x3060 },
  },
  {
    kind: EventKind.VMENTRY,
    level: 0,
    data: { injected: 0, launch: 0, guestRip: 0x3004 },
    text: 'VM entry (VMRESUME) into L1.',
    running: 1,
  },
  {
    kind: EventKind.VMEXIT,
    level: 1,
    data: { reason: 23, intrInfo: 0, vectoringInfo: 0 },
    text: 'VM exit, reason 23 (VMREAD).',
    running: 0,
    vmcs01: { VM_EXIT_REASON: 23 },
  },
  {
    kind: EventKind.DECISION,
    level: 0,
    data: decision(Fn.handle_vmread),
    text: 'handle_vmread: L1’s VMREAD of VM_EXIT_REASON trapped.',
    running: 0,
  },
  {
    kind: EventKind.VMENTRY,
    level: 0,
    data: { injected: 0, launch: 0, guestRip: 0x3008 },
    text: 'VM entry (VMRESUME) into L1.',
    running: 1,
  },
  { kind: EventKind.INSTR, level: 1, data: { instruction: 2 }, text: 'Retired `nop`.', running: 1 },
  {
    kind: EventKind.VMEXIT,
    level: 1,
    data: { reason: 20, intrInfo: 0, vectoringInfo: 0 },
    text: 'VM exit, reason 20 (VMLAUNCH).',
    running: 0,
    vmcs01: { VM_EXIT_REASON: 20 },
  },
  {
    kind: EventKind.DECISION,
    level: 0,
    data: decision(Fn.nested_vmx_run, 1),
    text: 'nested_vmx_run: L1’s VMLAUNCH passes the checks; prepare_vmcs02 merges vmcs12 into vmcs02.',
    running: 0,
    vmcs02: {
      PIN_BASED_VM_EXEC_CONTROL: 0x29,
      CPU_BASED_VM_EXEC_CONTROL: 0x80,
      VM_EXIT_REASON: 0,
      GUEST_RIP: 0x3060,
      HOST_RIP: 0x3000,
      VMX_PREEMPTION_TIMER_VALUE: 0,
    },
    nested: { guestMode: true, runPending: true },
  },
  {
    kind: EventKind.VMENTRY,
    level: 0,
    data: { injected: 0, launch: 1, guestRip: 0x3060 },
    text: 'VM entry (VMLAUNCH) into L2.',
    running: 2,
    nested: { runPending: false },
  },
  { kind: EventKind.INSTR, level: 2, data: { instruction: 5 }, text: 'Retired `work 100000`.', running: 2 },
  {
    kind: EventKind.VMEXIT,
    level: 2,
    data: { reason: 1, intrInfo: 0x800000fd, vectoringInfo: 0 },
    text: 'VM exit, reason 1 (EXTERNAL_INTERRUPT).',
    running: 0,
    vmcs02: { VM_EXIT_REASON: 1, GUEST_RIP: 0x3064 },
  },
  {
    kind: EventKind.DECISION,
    level: 0,
    data: decision(Fn.handle_external_interrupt_irqoff, 0xfd),
    text: 'handle_external_interrupt_irqoff: vector 0xfd.',
    running: 0,
  },
  {
    kind: EventKind.DECISION,
    level: 0,
    data: decision(Fn.vmx_check_nested_events, 1, 0),
    text: 'vmx_check_nested_events: an interrupt for L1 while L2 runs: an external-interrupt exit.',
    running: 0,
    vmcs12: { VM_EXIT_REASON: 1, GUEST_RIP: 0x3064 },
    nested: { guestMode: false },
  },
  {
    kind: EventKind.VMENTRY,
    level: 0,
    data: { injected: 0, launch: 0, guestRip: 0x3044 },
    text: 'VM entry (VMRESUME) into L1.',
    running: 1,
  },
  { kind: EventKind.INSTR, level: 1, data: { instruction: 4 }, text: 'Retired `vmread`.', running: 1 },
];

/** vmcs02's fields and where each came from, as prepare_vmcs02 records it. */
export const VMCS02_PROVENANCE: Record<string, string> = {
  PIN_BASED_VM_EXEC_CONTROL: 'vmcs01 | vmcs12 (preemption timer emulated): prepare_vmcs02_early',
  CPU_BASED_VM_EXEC_CONTROL: 'vmcs01 without the window bits | vmcs12; MSR bitmaps off: prepare_vmcs02_early',
  GUEST_RIP: 'vmcs12: prepare_vmcs02',
  HOST_RIP: "L0's host state: vmx_set_constant_host_state",
  VMX_PREEMPTION_TIMER_VALUE: "L0's own (vmcs12's timer is an hrtimer)",
};

function fieldsOf(values: Fields): VmcsView['fields'] {
  return Object.entries(values)
    .map(([name, value]) => ({ name, value, encoding: fieldByName(name)!.encoding }))
    .sort((a, b) => a.encoding - b.encoding);
}

function vmcsViews(v01: Fields, v02: Fields | null, v12: Fields, guestMode: boolean): VmcsView[] {
  const out: VmcsView[] = [
    {
      addr: 0x2000,
      label: null,
      role: 'vmcs01',
      launched: true,
      current: !guestMode,
      owner: 0,
      runs: 1,
      heldBy: 'the processor',
      provenance: null,
      fields: fieldsOf(v01),
    },
  ];
  if (v02) {
    const provenance = Object.fromEntries(
      Object.entries(VMCS02_PROVENANCE).map(([name, text]) => [fieldByName(name)!.encoding, text]),
    );
    out.push({
      addr: 0x4000,
      label: null,
      role: 'vmcs02',
      launched: true,
      current: guestMode,
      owner: 0,
      runs: 2,
      heldBy: 'the processor',
      provenance,
      fields: fieldsOf(v02),
    });
  }
  out.push({
    addr: 0x5000,
    label: 'vmcs12_region',
    role: 'vmcs12',
    launched: v02 !== null,
    current: true,
    owner: 1,
    runs: 2,
    heldBy: 'L0 · KVM (its cached copy of L1’s VMCS)',
    provenance: null,
    fields: fieldsOf(v12),
  });
  return out;
}

const KVM: KvmView = {
  phase: 'vcpu_enter_guest',
  enableVnmi: true,
  era: 'current',
  halted: false,
  nmiQueued: 0,
  nmiPending: 0,
  nmiInjected: false,
  irqInjected: null,
  requests: [],
  softVnmiBlocked: false,
  vnmiBlockedTimeNs: 0,
  lastExitReason: -1,
  hostIrqs: 0,
  nested: null,
  log: [],
};

const NESTED_START: Nested = {
  vmxon: true,
  currentVmptr: 0x5000,
  guestMode: false,
  runPending: false,
  preemptionTimerExpired: false,
  preemptionTimerDeadline: -1,
  mtfPending: false,
};

function level(index: 0 | 1 | 2, running: number, guestMode: boolean, launched: boolean): LevelView {
  const names = ['L0 · KVM', 'L1 · hypervisor', 'L2 · guest of L1'];
  const resting = [
    guestMode ? 'the host-state area of vmcs02' : 'the host-state area of vmcs01',
    guestMode ? 'the host-state area of vmcs12' : 'the guest-state area of vmcs01',
    guestMode ? 'the guest-state area of vmcs02' : launched ? 'the guest-state area of vmcs12' : null,
  ][index];
  const rip = [0x3000, guestMode && running !== 1 ? 0x3044 : 0x3008, 0x3064][index];
  return {
    index,
    name: names[index],
    kind: index === 0 ? 'kvm' : 'guest',
    cpu: {
      regs: ['rax', 'rbx', 'rsp'].map((name) => ({ name, value: '0x' + '0'.repeat(16) })),
      rip,
      rflags: 0x2,
      if: false,
      tf: false,
      interruptibility: { sti: false, movss: false, nmi: false },
      activity: 'active',
      running: running === index,
      mode: index === 0 ? 'root' : 'non-root',
      vnmiBlocked: false,
      pending: { nmi: false, intr: null },
      workRemaining: 0,
      tsc: 0,
      handlerDepth: 0,
      nmiDepth: 0,
    },
    apic: { irr: [], isr: [], tpr: 0, ppr: 0 },
    kvm: null,
    restingIn: running === index ? null : resting,
    line: index === 0 ? null : 2,
    nextInstruction: index === 0 ? null : L1_PROGRAM[1].trim(),
  };
}

/** The run: 16 steps, two folded round trips, a nested launch, an emulated exit to L1. */
export function nestedRun(): CannedRun {
  let v01: Fields = {
    VM_EXIT_REASON: 0,
    PIN_BASED_VM_EXEC_CONTROL: 0x29,
    GUEST_RIP: 0x3000,
    HOST_RIP: 0x3000,
  };
  let v02: Fields | null = null;
  let v12: Fields = { VM_EXIT_REASON: 0, PIN_BASED_VM_EXEC_CONTROL: 0x1, GUEST_RIP: 0, HOST_RIP: 0x3044 };
  let nested = { ...NESTED_START };
  const total = NESTED_STEPS.length;
  const viewOf = (step: number, running: number, event: TraceEventView | null, text: string): StepView => {
    const levels = ([0, 1, 2] as const).map((i) => level(i, running, nested.guestMode, v02 !== null));
    levels[0].kvm = { ...structuredClone(KVM), nested: { ...nested } };
    return {
      step,
      totalSteps: total,
      time: step * 100,
      event,
      explanation: { text, cite: null },
      levels,
      vmx: {
        on: true,
        nonRoot: running !== 0,
        preemptionTimer: null,
        mtfPending: false,
        vmcs: vmcsViews(v01, v02, v12, nested.guestMode),
      },
      assertions: [],
    };
  };
  const views: StepView[] = [viewOf(0, 1, null, 'L1 runs under KVM.')];
  const events: TraceEventView[] = [];
  NESTED_STEPS.forEach((spec, i) => {
    const step = i + 1;
    v01 = { ...v01, ...spec.vmcs01 };
    if (spec.vmcs02) v02 = { ...(v02 ?? {}), ...spec.vmcs02 };
    v12 = { ...v12, ...spec.vmcs12 };
    nested = { ...nested, ...spec.nested };
    const event: TraceEventView = {
      step,
      time: step * 100,
      level: spec.level,
      kind: EVENT_KIND_NAMES[spec.kind],
      rip: 0,
      data: spec.data ?? {},
    };
    events.push(event);
    views.push(viewOf(step, spec.running, event, spec.text));
  });
  return { views, events };
}
