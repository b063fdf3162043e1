// A read of causes/why.ts as something to show and to follow through the run: its name as the
// VMCS panel, the CPU panel and the palette's "when did this change" say it, and its value in
// any state (to find the step that last changed it).
import { ppr } from '../cpu/apic';
import type { ApicState } from '../cpu/apic';
import { singleStepDue } from '../cpu/boundary-events';
import { Shadow } from '../cpu/state';
import type { SimState } from '../engine/machine';
import { KVM_VARIABLES, targetValue, type ChangeTarget } from '../engine/search-targets';
import type { XenState } from '../hypervisors/xen/state';
import type { CompiledScenario } from '../scenario/load';
import { INT_CTL, INTERCEPT } from '../svm/bits';
import { intercepted } from '../svm/state';
import { layoutOf } from '../vmx/bits';
import { fieldByEncoding } from '../vmx/fields';
import { readField, type VmcsState } from '../vmx/vmcs';
import { type WhatRead, maskedValue } from './why';

/** Linux's prefix of a field's bit constants (CPU_BASED_, GUEST_INTR_STATE_, ...), dropped in
 *  `FIELD.BIT` names as the palette accepts them. */
const BIT_PREFIX = /^(CPU_BASED|PIN_BASED|SECONDARY_EXEC|VM_EXIT|VM_ENTRY|GUEST_INTR_STATE|X86_EFLAGS)_/;

/** `FIELD.BIT` (a named bit), `FIELD[n]` (an unnamed one), `FIELD` (the whole field). */
export function vmcsReadName(enc: number, mask: number): string {
  const field = fieldByEncoding(enc)?.name ?? `field 0x${enc.toString(16)}`;
  if (mask === 0xffffffff) return field;
  const entry = layoutOf(field)?.entries.find((e) => e.mask >>> 0 === mask >>> 0);
  if (entry?.linuxName) return `${field}.${entry.linuxName.replace(BIT_PREFIX, '')}`;
  const bit = 31 - Math.clz32(mask);
  return `${field}[${bit}]`;
}

const CPU_LABELS: Record<string, string> = {
  pending_exit: 'a VM exit pending from VM entry',
  mtf_pending: 'MTF VM exit pending',
  debug_trap: 'single-step / pending debug trap',
  preemption_timer_expired: 'VMX-preemption timer expired',
  nmi_pending: 'NMI pending',
  activity: 'activity state',
  gif: 'GIF',
  virtual_nmi_blocking: 'virtual-NMI blocking',
};

function svmReadName(name: 'int_ctl' | 'intercept', mask: number): string {
  if (name === 'intercept') {
    const n = Object.entries(INTERCEPT).find(([, b]) => b === mask)?.[0];
    return n ?? `intercept bit ${mask}`;
  }
  const n = Object.entries(INT_CTL).find(([, m]) => m >>> 0 === mask >>> 0)?.[0];
  return `int_ctl.${n ? n.replace(/_MASK$/, '') : `[0x${mask.toString(16)}]`}`;
}

/** How the cause list names a read. `role` names the VMCS (vmcs01, vmcs12, ...) when known. */
export function readLabel(w: WhatRead, role: string | null): string {
  switch (w.k) {
    case 'vmcs':
      return `${vmcsReadName(w.enc, w.mask)} of ${role ?? `the VMCS at 0x${w.addr.toString(16)}`}`;
    case 'cpu': {
      const name = w.name === 'rflags' ? 'RFLAGS.IF' : (CPU_LABELS[w.name] ?? w.name);
      const own = w.name === 'virtual_nmi_blocking' || !CPU_LABELS[w.name];
      return own ? `${name} of L${w.lane}` : `${name} (processor)`;
    }
    case 'apic': {
      const apic = w.lane < 0 ? "the processor's APIC" : `the virtual APIC of KVM L${w.lane}`;
      return w.name === 'irr' ? `highest IRR vector of ${apic}` : `PPR of ${apic}`;
    }
    case 'kvm':
      return `${w.name} of KVM L${w.lane}`;
    case 'xen':
      return `${w.name} of Xen L${w.lane}`;
    case 'svm':
      return `${svmReadName(w.name, w.mask)} of L${w.lane}'s VMCB (as loaded by VMRUN)`;
    case 'mem':
      return `${w.name} (bit ${w.bit} of the byte at 0x${w.addr.toString(16)})`;
  }
}

/** The palette query that lists the changes of a read, when the palette can watch it. */
export function readQuery(w: WhatRead, role: string | null): string | null {
  switch (w.k) {
    case 'vmcs':
      return role && !role.startsWith('shadow')
        ? `${vmcsReadName(w.enc, w.mask)} in ${role.split(' ')[0]}`
        : null;
    case 'cpu':
      if (w.name === 'rflags') return `RFLAGS.IF of L${w.lane}`;
      return w.name.startsWith('blocking_by') ? `${w.name} of L${w.lane}` : null;
    case 'kvm':
      return `${w.name} of L${w.lane}`;
    default:
      return null;
  }
}

/** A read's value as the list shows it. */
export function showRead(w: WhatRead, v: number | null): string {
  if (v === null) return '—';
  if (w.k === 'apic') return w.name === 'irr' ? (v < 0 ? 'none' : `vector ${v}`) : `0x${v.toString(16)}`;
  if (w.k === 'vmcs' && w.mask === 0xffffffff) return `0x${(v >>> 0).toString(16)}`;
  if (w.k === 'kvm' && w.name === 'vnmi_blocked_time') return `${v.toLocaleString('en-US')} ns`;
  return String(v);
}

function vmcsOf(s: SimState, owner: number, addr: number): VmcsState | null {
  if (owner === 0) return s.vmx.vmcs[addr] ?? null;
  return s.kvms[owner - 1]?.nested.vmcs12[addr] ?? null;
}

function topIrr(a: ApicState): number {
  for (let i = 7; i >= 0; i--) if (a.irr[i]) return i * 32 + 31 - Math.clz32(a.irr[i]);
  return -1;
}

function reg(lane: number, name: string, bits: readonly [number, number] | null): ChangeTarget {
  return { w: 'reg', reg: name, bits, level: lane, levelAt: null, label: name };
}

/** The Xen model's variables a decision reads (struct vcpu / hvm_vcpu, by Xen's names). */
const XEN_VARIABLES: Record<string, (x: XenState) => number> = {
  nmi_pending: (x) => (x.nmiPending ? 1 : 0),
  vnmi: (x) => (x.vnmi ? 1 : 0),
};

/** The value of what a read read, in state `s` (as the read noted it: a bit as 0/1). Null when
 *  it does not exist there (no such VMCS, no KVM). */
export function readValue(c: CompiledScenario, s: SimState, w: WhatRead): number | null {
  switch (w.k) {
    case 'vmcs': {
      const v = vmcsOf(s, w.owner, w.addr);
      if (!v) return null;
      const x = v.fields[w.enc] === undefined ? 0 : readField(v, w.enc);
      return w.mask === 0xffffffff ? x >>> 0 : x & w.mask ? 1 : 0;
    }
    case 'apic': {
      const a = w.lane < 0 ? s.apic : s.kvms[w.lane]?.lapic;
      if (!a) return null;
      return w.name === 'irr' ? topIrr(a) : ppr(a);
    }
    case 'kvm': {
      const k = s.kvms[w.lane];
      const f = KVM_VARIABLES[w.name];
      return k && f ? f(k) : null;
    }
    case 'xen': {
      const f = XEN_VARIABLES[w.name];
      return s.xen && f ? f(s.xen) : null;
    }
    case 'svm':
      if (w.name === 'intercept') return intercepted(s.svm, w.mask) ? 1 : 0;
      return maskedValue(s.svm.intCtl, w.mask);
    case 'mem': {
      const lane = c.lanes[w.lane];
      const bytes = lane ? s.mems[lane.program]?.bytes : undefined;
      if (!bytes || w.addr < 0 || w.addr >= bytes.length) return null;
      return (bytes[w.addr] >>> w.bit) & 1;
    }
    case 'cpu':
      break;
  }
  const cpu = s.cpu;
  const running = s.lane === w.lane;
  switch (w.name) {
    case 'pending_exit':
      return s.vmx.pendingExit ? 1 : 0;
    case 'mtf_pending':
      return s.vmx.mtfPending ? 1 : 0;
    case 'debug_trap':
      return singleStepDue(cpu) ? 1 : 0;
    case 'preemption_timer_expired':
      return s.vmx.timerDeadline >= 0 && s.time >= s.vmx.timerDeadline ? 1 : 0;
    case 'nmi_pending':
      return cpu.nmiPending ? 1 : 0;
    case 'activity':
      return cpu.activity;
    case 'gif':
      return s.svm.gif ? 1 : 0;
    case 'rflags':
      if (running) return (cpu.rflags >>> w.bit) & 1;
      return Number(targetValue(c, s, reg(w.lane, 'rflags', [w.bit, w.bit])));
    case 'blocking_by_sti':
      if (running) return cpu.shadow & Shadow.STI ? 1 : 0;
      break;
    case 'blocking_by_mov_ss':
      if (running) return cpu.shadow & Shadow.MOVSS ? 1 : 0;
      break;
    case 'blocking_by_nmi':
      if (running) return cpu.nmiBlocked ? 1 : 0;
      break;
    case 'virtual_nmi_blocking':
      if (running) return cpu.vnmiBlocked ? 1 : 0;
      break;
  }
  const name = w.name === 'virtual_nmi_blocking' ? 'blocking_by_nmi' : w.name;
  const v = targetValue(c, s, reg(w.lane, name, null));
  return v === null ? null : Number(v);
}
