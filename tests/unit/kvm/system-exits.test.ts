// KVM's handlers of the exits of issue 10 item 6 (arch/x86/kvm/vmx/vmx.c): vmcs01's controls
// without EPT and TPR shadow, handle_cr (masks and read shadows, CR3 and CR8 exits, #GP on
// bad values), handle_io (no device: all ones), handle_rdpmc, handle_wbinvd, handle_invlpg,
// handle_monitor/handle_mwait (NOPs) and kvm_emulate_cpuid.
import { describe, expect, it } from 'vitest';
import { CPU_BASED, SECONDARY_EXEC } from '../../../src/core/vmx/bits';
import { ExitReason } from '../../../src/core/vmx/vm-exit';
import { F, Fn, decisions, exits, glabel, guestQ, kvmAt, runKvm, vmcsAt } from './kvm-helpers';

const s = runKvm([
  '        .intgate 13, gp',
  'start:',
  '        mov rax, cr0',
  '        mov [cr0_read], rax',
  '        mov rax, cr4',
  '        mov [cr4_read], rax',
  '        mov rax, 0x5000',
  'w_cr3:  mov cr3, rax',
  '        mov rbx, cr3',
  '        mov [cr3_read], rbx',
  '        mov rax, 3',
  'w_cr8:  mov cr8, rax',
  '        mov rcx, cr8',
  '        mov [cr8_read], rcx',
  // TS is the guest's: no exit. WP is KVM's: an exit, then the guest reads its new value.
  '        mov rax, 0x8001003b',
  'w_ts:   mov cr0, rax',
  '        mov rax, 0x80000033',
  'w_wp:   mov cr0, rax',
  '        mov rax, cr0',
  '        mov [cr0_after], rax',
  // CR4.LA57 is reserved: KVM injects #GP(0).
  '        mov rax, after_bad',
  '        mov [resume], rax',
  '        mov rax, 0x3020',
  'w_bad:  mov cr4, rax',
  'after_bad:',
  '        mov rax, -1',
  'io_in:  in al, 0x80',
  '        mov [in_read], rax',
  '        mov edx, 0x3f8',
  '        out dx, al',
  '        mov ecx, 1',
  '        rdpmc',
  '        mov [pmc_read], rax',
  '        mov rax, after_pmc',
  '        mov [resume], rax',
  '        mov ecx, 9',
  'pmc_bad: rdpmc',
  'after_pmc:',
  '        wbinvd',
  '        invd',
  '        invlpg [rbx+8]',
  '        xor ecx, ecx',
  '        monitor',
  '        mwait',
  '        mov eax, 1',
  '        cpuid',
  '        mov [cpuid_ecx], rcx',
  'done:   cli',
  '        hlt',
  'gp:     inc qword [gps]',
  '        add rsp, 8',
  '        mov rax, [resume]',
  '        mov [rsp], rax',
  '        iretq',
  'cr0_read:  .dq 0',
  'cr4_read:  .dq 0',
  'cr3_read:  .dq 0',
  'cr8_read:  .dq 0',
  'cr0_after: .dq 0',
  'in_read:   .dq 0',
  'pmc_read:  .dq -1',
  'cpuid_ecx: .dq 0',
  'gps:       .dq 0',
  'resume:    .dq 0',
]);
const q = (name: string) => guestQ(s, glabel(s, name));

describe('vmcs01 as vmx.c sets it without EPT and TPR shadow', () => {
  it('CR3/CR8/INVLPG/I/O/MWAIT/MONITOR/RDPMC exiting, WBINVD exiting, CR0/CR4 masks', () => {
    const first = exits(s)[0];
    const proc = vmcsAt(s, first.step, F.CPU_BASED_VM_EXEC_CONTROL);
    for (const bit of [
      CPU_BASED.CPU_BASED_CR3_LOAD_EXITING,
      CPU_BASED.CPU_BASED_CR3_STORE_EXITING,
      CPU_BASED.CPU_BASED_CR8_LOAD_EXITING,
      CPU_BASED.CPU_BASED_CR8_STORE_EXITING,
      CPU_BASED.CPU_BASED_INVLPG_EXITING,
      CPU_BASED.CPU_BASED_UNCOND_IO_EXITING,
      CPU_BASED.CPU_BASED_MWAIT_EXITING,
      CPU_BASED.CPU_BASED_MONITOR_EXITING,
      CPU_BASED.CPU_BASED_RDPMC_EXITING,
    ])
      expect(proc & bit).toBe(bit);
    expect(
      vmcsAt(s, first.step, F.SECONDARY_VM_EXEC_CONTROL) & SECONDARY_EXEC.SECONDARY_EXEC_WBINVD_EXITING,
    ).toBe(SECONDARY_EXEC.SECONDARY_EXEC_WBINVD_EXITING);
    expect(vmcsAt(s, first.step, F.CR0_GUEST_HOST_MASK)).toBe(0xfffffff7);
    expect(vmcsAt(s, first.step, F.CR4_GUEST_HOST_MASK)).toBe(0xfffef8f1);
  });
  it('the guest reads the CR0 and CR4 of bare metal from the read shadows, without exits', () => {
    expect([q('cr0_read'), q('cr4_read')]).toEqual([0x80010033n, 0x2020n]);
  });
});

describe('handle_cr', () => {
  const crs = decisions(s, Fn.handle_cr);
  it('MOV to CR3 and from CR3 exit; KVM keeps the guest CR3 and returns it', () => {
    expect(crs[0]).toMatchObject({ d1: 0x003, d2: 0x5000 });
    expect(q('cr3_read')).toBe(0x5000n);
    expect(kvmAt(s, crs[0].step).cr3).toBe(0x5000);
  });
  it('CR8 is the emulated APIC TPR[7:4]', () => {
    const w = crs.find((d) => (d.d1 & 0xf) === 8)!;
    expect(kvmAt(s, w.step).lapic.tpr).toBe(0x30);
    expect(q('cr8_read')).toBe(3n);
  });
  it('a guest-owned CR0 bit (TS) does not exit; a KVM-owned one (WP) exits and updates the shadow', () => {
    const wts = glabel(s, 'w_ts');
    expect(exits(s).some((e) => e.rip === wts)).toBe(false);
    const wwp = exits(s).find((e) => e.rip === glabel(s, 'w_wp'))!;
    expect(wwp.d0).toBe(ExitReason.CR_ACCESS);
    const d = crs.find((x) => x.step > wwp.step)!;
    expect(kvmAt(s, d.step).cr0).toBe(0x80000033);
    expect(vmcsAt(s, d.step, F.CR0_READ_SHADOW)).toBe(0x80000033);
    expect(q('cr0_after') & ~8n).toBe(0x80000033n);
  });
  it('a reserved CR4 bit: #GP(0) injected, the guest handler runs', () => {
    const wbad = exits(s).find((e) => e.rip === glabel(s, 'w_bad'))!;
    expect(wbad.d0).toBe(ExitReason.CR_ACCESS);
    const gp = crs.find((d) => d.step > wbad.step)!;
    expect([gp.d1, gp.d2]).toEqual([0x004, 13]);
    expect(kvmAt(s, gp.step).exceptionPending).toBe(true);
    expect(q('gps')).toBe(2n); // and the RDPMC below
  });
});

describe('handle_io, handle_rdpmc and the rest', () => {
  it('IN from a port without a device reads all ones; OUT is dropped; both skipped', () => {
    const io = decisions(s, Fn.handle_io);
    expect(io.map((d) => [d.d1, d.d2])).toEqual([
      [0x80, 1],
      [0x3f8, 0],
    ]);
    expect(q('in_read')).toBe(0xffffffffffffffffn);
  });
  it('RDPMC of counter 1 reads 0; counter 9 is #GP', () => {
    expect(q('pmc_read')).toBe(0n);
    expect(decisions(s, Fn.handle_rdpmc).map((d) => [d.d1, d.d2])).toEqual([
      [1, 0],
      [9, 13],
    ]);
  });
  it('WBINVD, INVD, INVLPG (its linear address), MONITOR and MWAIT are handled and skipped', () => {
    expect(decisions(s, Fn.handle_wbinvd)).toHaveLength(1);
    expect(decisions(s, Fn.handle_invd)).toHaveLength(1); // INVD always exits: treated as a NOP
    const inv = decisions(s, Fn.handle_invlpg);
    expect(inv.map((d) => d.d1)).toEqual([0x5008]);
    expect(decisions(s, Fn.handle_monitor)).toHaveLength(1);
    expect(decisions(s, Fn.handle_mwait)).toHaveLength(1);
    expect(s.sim.endReason).toBe('halted');
  });
  it('kvm_emulate_cpuid: VMX and RDRAND reported, MONITOR not', () => {
    const ecx = q('cpuid_ecx');
    expect([(ecx >> 5n) & 1n, (ecx >> 30n) & 1n, (ecx >> 3n) & 1n]).toEqual([1n, 1n, 0n]);
  });
});
