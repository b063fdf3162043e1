// prepare_vmcs02_early / prepare_vmcs02 (arch/x86/kvm/vmx/nested.c, facts §3.10): vmcs02 is
// vmcs12 merged with vmcs01, field by field — pin controls vmcs01 | vmcs12 without the
// preemption timer (KVM emulates L1's timer with an hrtimer); primary controls vmcs01 without
// L0's interrupt/NMI-window bits and TPR shadow | vmcs12, with MSR bitmaps off; the exception
// bitmap both; exit controls L0's own; guest state from vmcs12; the event L1 injects only
// while nested_run_pending. vmcs02 is read at 0x4000 in L0's memory (the processor's VMCS).
import { describe, expect, it } from 'vitest';
import {
  CPU_BASED,
  F,
  Fn,
  KVM_HOST,
  PIN_BASED,
  VM_EXIT,
  currentAddr,
  decisions,
  firstDecision,
  l1Exits,
  l1Program,
  l2Entries,
  lbl,
  nestedAt,
  q,
  runNested,
  vmcs01,
  vmcs02,
  vmcs12,
} from './nested-helpers';

const INTR_WIN = CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING;
const NMI_WIN = CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING;
const TPR_SHADOW = CPU_BASED.CPU_BASED_TPR_SHADOW;
const MSR_BITMAPS = CPU_BASED.CPU_BASED_USE_MSR_BITMAPS;
const TIMER = PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER;

describe('the merge at nested_vmx_run: L1 asks for much, L0 has its IRQ window armed in vmcs01', () => {
  // An interrupt for L1 (0x30) arrives while L1 runs with IF = 0: L0 arms the interrupt window
  // in vmcs01, which is still armed when L1 executes VMLAUNCH.
  const s = runNested(
    l1Program({
      setup: [
        '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK | PIN_BASED_VMX_PREEMPTION_TIMER',
        '        vmwrite VMX_PREEMPTION_TIMER_VALUE, 1000000',
        '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_RDTSC_EXITING | CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_PAUSE_EXITING',
        '        vmwrite MSR_BITMAP, msr_bitmap',
        '        vmwrite EXCEPTION_BITMAP, 0x4040', // #PF and #UD
        '        vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER',
        '        vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_EXT_INTR | 0x41',
      ],
    }),
    { events: [{ at: { level: 1, label: 'start' }, target: 1, irq: 0x30 }] },
  );
  const run = firstDecision(s, Fn.nested_vmx_run).step;
  const v01 = (enc: number) => vmcs01(s, run, enc);
  const v12 = (enc: number) => vmcs12(s, run, enc);
  const v02 = (enc: number) => vmcs02(s, run, enc);

  it('vmcs02 is the current VMCS and nested_run_pending is set after nested_vmx_run', () => {
    expect(currentAddr(s, run)).toBe(KVM_HOST.VMCS02);
    expect(nestedAt(s, run)).toMatchObject({ guestMode: true, runPending: true });
  });

  it('the precondition holds: vmcs01 has L0 HLT exiting and its interrupt window for L1 armed', () => {
    expect(v01(F.CPU_BASED_VM_EXEC_CONTROL) & INTR_WIN).toBe(INTR_WIN);
    expect(v01(F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_HLT_EXITING).toBeTruthy();
    expect(v12(F.CPU_BASED_VM_EXEC_CONTROL) & INTR_WIN).toBe(0);
  });

  it('PIN_BASED_VM_EXEC_CONTROL = vmcs01 | vmcs12 without the preemption-timer bit', () => {
    expect(v12(F.PIN_BASED_VM_EXEC_CONTROL) & TIMER).toBe(TIMER);
    expect(v02(F.PIN_BASED_VM_EXEC_CONTROL)).toBe(
      ((v01(F.PIN_BASED_VM_EXEC_CONTROL) | v12(F.PIN_BASED_VM_EXEC_CONTROL)) & ~TIMER) >>> 0,
    );
    // L0's own: physical interrupts and NMIs always exit to L0, whatever L1 asked.
    const need =
      PIN_BASED.PIN_BASED_EXT_INTR_MASK | PIN_BASED.PIN_BASED_NMI_EXITING | PIN_BASED.PIN_BASED_VIRTUAL_NMIS;
    expect(v02(F.PIN_BASED_VM_EXEC_CONTROL) & need).toBe(need);
    expect(v02(F.PIN_BASED_VM_EXEC_CONTROL) & TIMER).toBe(0);
    // ... and vmcs12's timer is emulated: an hrtimer is armed, vmcs02's timer value is L0's (0).
    expect(nestedAt(s, run).preemptionTimerDeadline).toBeGreaterThan(0);
    expect(v02(F.VMX_PREEMPTION_TIMER_VALUE)).toBe(0);
    expect(v12(F.VMX_PREEMPTION_TIMER_VALUE)).toBe(1_000_000);
  });

  it('CPU_BASED_VM_EXEC_CONTROL = vmcs01 without the window bits and TPR shadow | vmcs12, MSR bitmaps off', () => {
    const expected =
      ((v01(F.CPU_BASED_VM_EXEC_CONTROL) & ~(INTR_WIN | NMI_WIN | TPR_SHADOW)) |
        (v12(F.CPU_BASED_VM_EXEC_CONTROL) & ~MSR_BITMAPS)) >>>
      0;
    expect(v02(F.CPU_BASED_VM_EXEC_CONTROL)).toBe(expected);
    const proc = v02(F.CPU_BASED_VM_EXEC_CONTROL);
    expect(proc & INTR_WIN).toBe(0); // L0's window for L1 stays in vmcs01, inert while L2 runs
    expect(proc & CPU_BASED.CPU_BASED_HLT_EXITING).toBeTruthy(); // L0's
    expect(proc & CPU_BASED.CPU_BASED_RDTSC_EXITING).toBeTruthy(); // L1's
    expect(proc & CPU_BASED.CPU_BASED_PAUSE_EXITING).toBeTruthy(); // L1's
    expect(v12(F.CPU_BASED_VM_EXEC_CONTROL) & MSR_BITMAPS).toBe(MSR_BITMAPS);
    expect(proc & MSR_BITMAPS).toBe(0); // every MSR access of L2 exits to L0
  });

  it('EXCEPTION_BITMAP = vmcs01 | vmcs12', () => {
    expect(v12(F.EXCEPTION_BITMAP)).toBe(0x4040);
    expect(v02(F.EXCEPTION_BITMAP)).toBe((v01(F.EXCEPTION_BITMAP) | 0x4040) >>> 0);
    expect(v02(F.EXCEPTION_BITMAP) & ((1 << 17) | (1 << 18))).toBe((1 << 17) | (1 << 18)); // L0's #AC, #MC
  });

  it("VM_EXIT_CONTROLS are L0's own, not vmcs12's", () => {
    expect(v02(F.VM_EXIT_CONTROLS)).toBe(v01(F.VM_EXIT_CONTROLS));
    expect(v02(F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_SAVE_VMX_PREEMPTION_TIMER).toBe(0);
    expect(v02(F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_ACK_INTR_ON_EXIT).toBeTruthy(); // L0 acks its own
  });

  it("guest state comes from vmcs12 (L2's), not vmcs01 (L1's)", () => {
    expect(v02(F.GUEST_RIP)).toBe(lbl(s, 'l2'));
    expect(v02(F.GUEST_RSP)).toBe(0xc000);
    expect(v02(F.GUEST_IDTR_BASE)).toBe(lbl(s, 'guest_idt'));
    for (const enc of [F.GUEST_RIP, F.GUEST_RSP, F.GUEST_RFLAGS, F.GUEST_IDTR_BASE])
      expect(v02(enc), `field 0x${enc.toString(16)}`).toBe(v12(enc));
    expect(v01(F.GUEST_RIP)).not.toBe(v02(F.GUEST_RIP));
    expect(v01(F.GUEST_IDTR_BASE)).not.toBe(v02(F.GUEST_IDTR_BASE));
    // Host state is L0's own: L2's exits land in KVM.
    expect(v02(F.HOST_RIP)).toBe(v01(F.HOST_RIP));
    expect(v02(F.HOST_RSP)).toBe(v01(F.HOST_RSP));
  });

  it("VM_ENTRY_INTR_INFO_FIELD is vmcs12's while nested_run_pending", () => {
    expect(v02(F.VM_ENTRY_INTR_INFO_FIELD)).toBe(0x80000041);
    expect(l2Entries(s)[0].d0).toBe(0x80000041);
  });

  it('the view names where each merged field came from (vmcs02 provenance)', () => {
    const view = s.view(run).vmx.vmcs.find((v) => v.role === 'vmcs02');
    expect(view).toBeDefined();
    const prov = view!.provenance!;
    expect(prov).not.toBeNull();
    for (const enc of [F.PIN_BASED_VM_EXEC_CONTROL, F.CPU_BASED_VM_EXEC_CONTROL, F.EXCEPTION_BITMAP]) {
      expect(prov[enc], `0x${enc.toString(16)}`).toMatch(/vmcs01/);
      expect(prov[enc], `0x${enc.toString(16)}`).toMatch(/vmcs12/);
    }
    expect(prov[F.PIN_BASED_VM_EXEC_CONTROL]).toMatch(/preemption timer/);
    expect(prov[F.CPU_BASED_VM_EXEC_CONTROL]).toMatch(/MSR bitmaps/);
    expect(prov[F.VM_EXIT_CONTROLS]).toMatch(/L0/);
    expect(prov[F.VM_EXIT_CONTROLS]).not.toMatch(/vmcs12/);
    for (const enc of [F.GUEST_RIP, F.GUEST_RSP, F.GUEST_RFLAGS, F.GUEST_IDTR_BASE])
      expect(prov[enc], `0x${enc.toString(16)}`).toMatch(/^vmcs12/);
    expect(prov[F.VM_ENTRY_INTR_INFO_FIELD]).toMatch(/vmcs12/);
    expect(prov[F.VM_ENTRY_INTR_INFO_FIELD]).toMatch(/nested_run_pending/);
    // The view's fields are the processor's vmcs02 values.
    const pin = view!.fields.find((f) => f.encoding === F.PIN_BASED_VM_EXEC_CONTROL);
    expect(pin?.value).toBe(v02(F.PIN_BASED_VM_EXEC_CONTROL));
  });

  it('the window L0 keeps in vmcs01 takes effect once L1 runs again (the exit to L1 is reason 1)', () => {
    const exits = l1Exits(s);
    expect(exits[0]).toMatchObject({ reason: 1, intrInfo: 0 });
    expect(vmcs01(s, exits[0].step, F.CPU_BASED_VM_EXEC_CONTROL) & INTR_WIN).toBe(INTR_WIN);
  });
});

describe("vmcs12's own interrupt-window request reaches vmcs02", () => {
  const s = runNested(
    l1Program({ setup: ['        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING'] }),
  );
  const run = firstDecision(s, Fn.nested_vmx_run).step;

  it('vmcs02 has interrupt-window exiting although vmcs01 does not', () => {
    expect(vmcs01(s, run, F.CPU_BASED_VM_EXEC_CONTROL) & INTR_WIN).toBe(0);
    expect(vmcs02(s, run, F.CPU_BASED_VM_EXEC_CONTROL) & INTR_WIN).toBe(INTR_WIN);
  });
});

describe("L1's injection goes into vmcs02 only for the entry that nested_vmx_run emulates", () => {
  // L1 injects 0x41 with VMLAUNCH. L2's handler counts it; L2 then writes L1's x2APIC EOI,
  // which its zero MSR bitmap lets through to L0 (an exit L0 handles and re-enters L2 from),
  // then VMCALLs. L1 then VMRESUMEs L2 at a second VMCALL without writing the field again.
  const s = runNested(
    l1Program({
      setup: [
        '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_MSR_BITMAPS',
        '        vmwrite MSR_BITMAP, msr_bitmap',
        '        vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_EXT_INTR | 0x41',
      ],
      handler: [
        '        vmwrite GUEST_RIP, l2_again',
        '        vmwrite HOST_RIP, l1_second',
        '        vmresume',
        '        jmp entry_failed',
        'l1_second:',
        '        vmread rax, VM_EXIT_REASON',
        '        mov [second_reason], rax',
      ],
      l2: [
        '        xor eax, eax',
        '        xor edx, edx',
        '        mov ecx, 0x80b',
        'l2_eoi: wrmsr',
        '        vmcall',
        'l2_again:',
        '        vmcall',
      ],
      data: ['second_reason: .dq -1'],
    }),
  );
  const entries = l2Entries(s);
  const runs = decisions(s, Fn.nested_vmx_run).map((r) => r.step);

  it('the run ends as planned: L2 got its tick once, both exits to L1 were VMCALLs', () => {
    expect(q(s, 'l2_ticks')).toBe(1);
    expect(q(s, 'exit_reason')).toBe(18);
    expect(q(s, 'second_reason')).toBe(18);
    expect(entries.length).toBe(3); // VMLAUNCH, after L0's EOI emulation, L1's VMRESUME
  });

  it('the first entry into L2 injects 0x41 (nested_run_pending, from vmcs12)', () => {
    expect(entries[0].d0).toBe(0x80000041);
    expect(entries[0].d2).toBe(lbl(s, 'l2_tick')); // delivered: L2 starts at its handler
  });

  it('re-entering L2 after an exit L0 handled does not inject it again', () => {
    expect(nestedAt(s, entries[1].step).runPending).toBe(false);
    expect(entries[1].d0 & 0x80000000).toBe(0);
    // vmcs12 still holds L1's request with its valid bit: only the emulated exit clears it.
    expect(vmcs12(s, entries[1].step, F.VM_ENTRY_INTR_INFO_FIELD)).toBe(0x80000041);
  });

  it('the exit to L1 clears the valid bit in vmcs12, so the next VMRESUME injects nothing', () => {
    const firstExit = l1Exits(s)[0];
    expect(vmcs12(s, firstExit.step, F.VM_ENTRY_INTR_INFO_FIELD)).toBe(0x41);
    const second = runs[1];
    expect(second).toBeDefined();
    expect(vmcs02(s, second, F.VM_ENTRY_INTR_INFO_FIELD) & 0x80000000).toBe(0);
    expect(entries[2].d0 & 0x80000000).toBe(0);
    expect(entries[2].d2).toBe(lbl(s, 'l2_again'));
  });
});
