// AMD APM "Instruction Intercepts", "MSR Intercepts", "I/O Intercepts", "CRn/DRn intercepts":
// the #VMEXIT happens before the instruction, saves its RIP, and nRIP = the next instruction.
import { describe, expect, it } from 'vitest';
import { label } from '../helpers';
import { runSvm, svmExits, vmcb } from './svm-helpers';

const CASES: [string, string, string, number][] = [
  ['cpuid', 'VMCB_INTERCEPT', 'INTERCEPT_CPUID_MASK', 0x72],
  ['hlt', 'VMCB_INTERCEPT', 'INTERCEPT_HLT_MASK', 0x78],
  ['rdtsc', 'VMCB_INTERCEPT', 'INTERCEPT_RDTSC_MASK', 0x6e],
  ['rdpmc', 'VMCB_INTERCEPT', 'INTERCEPT_RDPMC_MASK', 0x6f],
  ['pause', 'VMCB_INTERCEPT', 'INTERCEPT_PAUSE_MASK', 0x77],
  ['invd', 'VMCB_INTERCEPT', 'INTERCEPT_INVD_MASK', 0x76],
  ['int 0x21', 'VMCB_INTERCEPT', 'INTERCEPT_INTn_MASK', 0x75],
  ['wbinvd', 'VMCB_INTERCEPT_WORD4', 'INTERCEPT_WBINVD_MASK | INTERCEPT_VMRUN_MASK', 0x89],
  ['monitor', 'VMCB_INTERCEPT_WORD4', 'INTERCEPT_MONITOR_MASK | INTERCEPT_VMRUN_MASK', 0x8a],
  ['mwait', 'VMCB_INTERCEPT_WORD4', 'INTERCEPT_MWAIT_MASK | INTERCEPT_VMRUN_MASK', 0x8b],
  ['stgi', 'VMCB_INTERCEPT_WORD4', 'INTERCEPT_STGI_MASK | INTERCEPT_VMRUN_MASK', 0x84],
  ['clgi', 'VMCB_INTERCEPT_WORD4', 'INTERCEPT_CLGI_MASK | INTERCEPT_VMRUN_MASK', 0x85],
  ['vmrun', 'VMCB_INTERCEPT_WORD4', 'INTERCEPT_VMRUN_MASK', 0x80],
  ['mov rax, cr3', 'VMCB_INTERCEPT_CR', 'INTERCEPT_CR3_READ_MASK', 0x03],
  ['mov cr4, rax', 'VMCB_INTERCEPT_CR', 'INTERCEPT_CR4_WRITE_MASK', 0x14],
  ['mov rax, dr7', 'VMCB_INTERCEPT_DR', 'INTERCEPT_DR7_READ_MASK', 0x27],
];

describe('instruction intercepts', () => {
  it.each(CASES)(
    '%s exits with its code before it executes; nRIP is the next instruction',
    (ins, word, mask, code) => {
      const s = runSvm({
        setup: [`        mov dword [rbx + ${word}], ${mask}`, '        mov rax, cr4'],
        guest: [`gi:     ${ins}`, 'gn:     vmmcall'],
      });
      const e = svmExits(s);
      expect(e.map((x) => [x.code, x.rip])).toEqual([[code, label(s, 'gi')]]);
      expect(vmcb(s, 'next_rip')).toBe(label(s, 'gn'));
    },
  );

  it('VMMCALL without its intercept raises #UD in the guest', () => {
    const s = runSvm({
      setup: ['        mov dword [rbx + VMCB_INTERCEPT_WORD4], INTERCEPT_VMRUN_MASK'],
      guestIdt: ['        .intgate 6, g_ud'],
      guest: ['        vmmcall'],
      extra: ['g_ud:   hlt'],
    });
    expect(svmExits(s)).toHaveLength(0);
    expect(s.sim.stateAt(s.totalSteps).cpu.rip).toBe(label(s, 'g_ud') + 1);
  });

  it('RDMSR/WRMSR exit only for MSRs whose MSRPM bit is set (EXITINFO1 0 read, 1 write)', () => {
    // MSR 0x1d9 (IA32_DEBUGCTL): read bit 2·0x1d9, write bit 2·0x1d9 + 1 → byte 0x76, bits 2/3.
    const run = (bits: number, ins: string) =>
      runSvm({
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_MSR_PROT_MASK',
          `        mov byte [msrpm + 0x76], ${bits}`,
        ],
        guest: [
          '        mov ecx, 0x1d9',
          '        xor eax, eax',
          '        xor edx, edx',
          `gi:     ${ins}`,
          '        vmmcall',
        ],
      });
    expect(svmExits(run(4, 'rdmsr')).map((e) => [e.code, e.info1])).toEqual([[0x7c, 0]]);
    expect(svmExits(run(8, 'wrmsr')).map((e) => [e.code, e.info1])).toEqual([[0x7c, 1]]);
    expect(svmExits(run(8, 'rdmsr')).map((e) => e.code)).toEqual([0x81]);
  });

  it('IN/OUT exit for ports whose IOPM bit is set, EXITINFO1 holding port, size and direction', () => {
    const s = runSvm({
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_IOIO_PROT_MASK',
        '        mov byte [iopm + 0x10], 1',
      ],
      guest: ['        out 0x81, al', 'gi:     in al, 0x80', '        vmmcall'],
    });
    const e = svmExits(s);
    expect(e.map((x) => [x.code, x.rip])).toEqual([[0x7b, label(s, 'gi')]]);
    expect(e[0].info1).toBe(((0x80 << 16) | 0x200 | 0x10 | 1) >>> 0);
  });

  it('TSC_OFFSET is added to the TSC the guest reads', () => {
    const s = runSvm({
      setup: ['        mov dword [rbx + VMCB_TSC_OFFSET], 0x100000'],
      guest: ['        rdtsc', '        vmmcall'],
    });
    // The guest's RAX is in the VMCB (the #VMEXIT loaded the host's).
    expect(vmcb(s, 'rax')).toBeGreaterThan(0x100000);
    expect(vmcb(s, 'rax')).toBeLessThan(0x100000 + 1000);
  });
});

describe('exception intercepts and HLT', () => {
  it('INT3 intercepted: exit 0x43 at the INT3, nRIP after it; a #UD: nRIP 0', () => {
    const s = runSvm({
      setup: ['        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x48'],
      guest: ['gi:     int3', 'gn:     vmmcall'],
    });
    expect(svmExits(s).map((x) => [x.code, x.rip])).toEqual([[0x43, label(s, 'gi')]]);
    expect(vmcb(s, 'next_rip')).toBe(label(s, 'gn'));
    const u = runSvm({
      setup: ['        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x48'],
      guest: ['gi:     ud2', '        vmmcall'],
    });
    expect(svmExits(u).map((x) => [x.code, x.rip])).toEqual([[0x46, label(u, 'gi')]]);
    expect(vmcb(u, 'next_rip')).toBe(0);
  });

  it('a guest halted without the HLT intercept wakes for the INTR intercept: exit 0x60 after the HLT', () => {
    const s = runSvm(
      {
        setup: ['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK'],
        guest: ['        sti', 'gh:     hlt', 'ga:     vmmcall'],
      },
      [{ at: { time: 500 }, irq: 0x40 }],
    );
    expect(svmExits(s).map((x) => [x.code, x.rip])).toEqual([[0x60, label(s, 'ga')]]);
    expect(label(s, 'ga')).toBe(label(s, 'gh') + 1);
  });
});

describe('the SHUTDOWN intercept and events in HLT (kvm-unit-tests svm_shutdown_intercept_test, nmi_hlt)', () => {
  it('#UD with an IDT of no gates escalates to a shutdown, which the intercept turns into exit 0x7F', () => {
    const s = runSvm({
      setup: ['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_SHUTDOWN_MASK'],
      guest: ['gi:     ud2', '        vmmcall'],
    });
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x7f, label(s, 'gi')]]);
  });

  it('without the intercept the processor shuts down: no #VMEXIT, the host never resumes', () => {
    const s = runSvm({ guest: ['gi:     ud2', '        vmmcall'], host: ['        mov r9, 1'] });
    expect(svmExits(s)).toEqual([]);
    expect(Number(s.sim.stateAt(s.totalSteps).cpu.regs[2 * 9])).toBe(0);
  });

  it('an NMI wakes a halted guest into the NMI intercept: exit 0x61 after the HLT', () => {
    const s = runSvm(
      {
        setup: ['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK'],
        guest: ['gh:     hlt', 'ga:     vmmcall'],
      },
      [{ at: { time: 500 }, nmi: true }],
    );
    expect(svmExits(s).map((x) => [x.code, x.rip])).toEqual([[0x61, label(s, 'ga')]]);
  });
});
