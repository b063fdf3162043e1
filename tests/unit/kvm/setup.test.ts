// KVM's set-up before the first VM entry: hardware_enable (VMXON), vmx_vcpu_create → init_vmcs
// (vmcs01's controls and the vCPU's initial state), then the first VMLAUNCH; and enable_vnmi,
// which needs both the vnmi module parameter and the CPU's virtual NMIs (vmx.c hardware_setup).
import { describe, expect, it } from 'vitest';
import { CPU_BASED, PIN_BASED, VM_EXIT } from '../../../src/core/vmx/bits';
import { EventKind } from '../helpers';
import {
  F,
  Fn,
  GUEST,
  KVM_HOST,
  decisions,
  entries,
  kvmAt,
  runKvm,
  vmcsAt,
  vmcsViewField,
} from './kvm-helpers';

const GUEST_PROGRAM = [
  '        .idt guest_idt',
  '        .intgate 2, nmi',
  '        .intgate 0x40, irq',
  'data:   .dq 0',
  'start:  nop', // the entry is `start`, not the image's first byte
  '        cli',
  '        hlt',
  'nmi:',
  'irq:    iretq',
];

describe('set-up: hardware_enable, vmx_vcpu_create, VMLAUNCH', () => {
  const s = runKvm(GUEST_PROGRAM, { memory: 0x8000 });
  const prog = s.compiled.programs[GUEST];

  it('step 1 is hardware_enable: VMXON with the VMXON region, no VMCS yet', () => {
    expect(s.sim.stateAt(0).vmx.on).toBe(false);
    const [first] = decisions(s);
    expect(first.step).toBe(1);
    expect(first.d0).toBe(Fn.hardware_enable);
    expect(first.d1).toBe(KVM_HOST.VMXON);
    const vmx = s.sim.stateAt(1).vmx;
    expect(vmx.on).toBe(true);
    expect(vmx.nonRoot).toBe(false);
  });

  it('step 2 is vmx_vcpu_create: VMCLEAR and VMPTRLD vmcs01', () => {
    const second = decisions(s)[1];
    expect(second.step).toBe(2);
    expect(second.d0).toBe(Fn.vmx_vcpu_create);
    expect(second.d1).toBe(KVM_HOST.VMCS01);
    const v = s.view(2).vmx.vmcs.find((x) => x.current);
    expect(v?.addr).toBe(KVM_HOST.VMCS01);
    expect(v?.launched).toBe(false);
  });

  it('vmcs01 controls: external-interrupt and NMI exiting, HLT exiting, acknowledge interrupt on exit', () => {
    const pin = vmcsAt(s, 2, F.PIN_BASED_VM_EXEC_CONTROL);
    expect(pin & PIN_BASED.PIN_BASED_EXT_INTR_MASK).toBeTruthy();
    expect(pin & PIN_BASED.PIN_BASED_NMI_EXITING).toBeTruthy();
    // vnmi defaults to on and the CPU has virtual NMIs.
    expect(pin & PIN_BASED.PIN_BASED_VIRTUAL_NMIS).toBeTruthy();
    expect(pin & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER).toBe(0);
    const proc = vmcsAt(s, 2, F.CPU_BASED_VM_EXEC_CONTROL);
    expect(proc & CPU_BASED.CPU_BASED_HLT_EXITING).toBeTruthy();
    // No window is armed before there is something to wait for.
    expect(proc & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING).toBe(0);
    expect(proc & CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING).toBe(0);
    const exitCtl = vmcsAt(s, 2, F.VM_EXIT_CONTROLS);
    expect(exitCtl & VM_EXIT.VM_EXIT_ACK_INTR_ON_EXIT).toBeTruthy();
    // The view shows the same value as the raw VMCS.
    expect(vmcsViewField(s, 2, F.PIN_BASED_VM_EXEC_CONTROL)).toBe(pin);
  });

  it('the guest state: RIP = the program entry, RSP = top of its memory, RFLAGS 0x2, its IDT', () => {
    expect(prog.entry).not.toBe(prog.origin);
    expect(vmcsAt(s, 2, F.GUEST_RIP)).toBe(prog.entry);
    expect(vmcsAt(s, 2, F.GUEST_RSP)).toBe(0x8000);
    expect(vmcsAt(s, 2, F.GUEST_RFLAGS)).toBe(0x2);
    expect(vmcsAt(s, 2, F.GUEST_IDTR_BASE)).toBe(prog.idtBase);
    expect(prog.idtBase).toBe(prog.labels.guest_idt);
    expect(vmcsAt(s, 2, F.GUEST_INTERRUPTIBILITY_INFO)).toBe(0);
    expect(vmcsAt(s, 2, F.GUEST_ACTIVITY_STATE)).toBe(0);
    expect(vmcsAt(s, 2, F.HOST_RIP)).toBe(KVM_HOST.VMX_VMEXIT);
  });

  it('then KVM_REQ_EVENT (set at creation) is processed and the first entry is a VMLAUNCH', () => {
    expect(s.sim.stateAt(2).kvm!.reqEvent).toBe(true);
    expect(decisions(s)[2]).toMatchObject({ step: 3, d0: Fn.kvm_check_and_inject_events, d1: 0 });
    const [first, ...rest] = entries(s);
    expect(first.step).toBe(4);
    expect(first.d1).toBe(1); // VMLAUNCH
    expect(first.d0).toBe(0); // nothing injected
    expect(first.d2).toBe(prog.entry);
    expect(s.sim.stateAt(4).vmx.nonRoot).toBe(true);
    expect(s.sim.stateAt(4).kvm!.launched).toBe(true);
    // The guest's first instruction runs at L1, with IF=0 as after reset.
    expect(s.sim.trace.kind[4]).toBe(EventKind.INSTR);
    expect(s.sim.trace.level[4]).toBe(GUEST);
    expect(s.view(4).levels[GUEST].cpu.if).toBe(false);
    // Later entries are VMRESUMEs.
    for (const e of rest) expect(e.d1).toBe(0);
  });

  it('the guest reaches its HLT with nothing to wake it: the run ends halted in kvm_vcpu_block', () => {
    expect(s.runError()).toBeNull();
    expect(s.sim.endReason).toBe('halted');
    const k = kvmAt(s, s.totalSteps);
    expect(k.halted).toBe(true);
    expect(decisions(s, Fn.kvm_emulate_halt)).toHaveLength(1);
  });
});

describe('enable_vnmi', () => {
  const pinAfterCreate = (vnmi: boolean, virtualNmis: boolean) => {
    const s = runKvm(['cli', 'hlt'], { kvm: { vnmi }, cpu: { virtualNmis } });
    return { pin: vmcsAt(s, 2, F.PIN_BASED_VM_EXEC_CONTROL), kvm: kvmAt(s, 2), view: s.view(2) };
  };

  it('is on with vnmi=1 on a CPU with virtual NMIs: the pin control is set', () => {
    const r = pinAfterCreate(true, true);
    expect(r.kvm.enableVnmi).toBe(true);
    expect(r.pin & PIN_BASED.PIN_BASED_VIRTUAL_NMIS).toBeTruthy();
    expect(r.view.levels[0].kvm?.enableVnmi).toBe(true);
  });

  it('is off when the CPU lacks virtual NMIs, even with options.vnmi = true', () => {
    const r = pinAfterCreate(true, false);
    expect(r.kvm.enableVnmi).toBe(false);
    expect(r.pin & PIN_BASED.PIN_BASED_VIRTUAL_NMIS).toBe(0);
    // NMI exiting stays: KVM never lets guest NMIs reach the host's IDT.
    expect(r.pin & PIN_BASED.PIN_BASED_NMI_EXITING).toBeTruthy();
    expect(r.view.levels[0].kvm?.enableVnmi).toBe(false);
  });

  it('is off with vnmi=0 although the CPU has virtual NMIs', () => {
    const r = pinAfterCreate(false, true);
    expect(r.kvm.enableVnmi).toBe(false);
    expect(r.pin & PIN_BASED.PIN_BASED_VIRTUAL_NMIS).toBe(0);
  });
});
