// AMD APM "Canonicalization and Consistency Checks": each illegal VMCB state makes VMRUN fail
// with VMEXIT_INVALID (EXITCODE -1): no guest runs, the host goes on after VMRUN with GIF = 0.
import { describe, expect, it } from 'vitest';
import { deliveries, label, open, scenarioDoc } from '../helpers';
import { runSvm, svmExits, vmcb, vmruns } from './svm-helpers';

const CASES: [string, string[]][] = [
  ['EFER.SVME clear in the VMCB', ['        and dword [rbx + VMCB_EFER], 0xffffefff']],
  ['CR0.NW set with CR0.CD clear', ['        or dword [rbx + VMCB_CR0], 0x20000000']],
  ['CR0[63:32] not zero', ['        mov dword [rbx + VMCB_CR0 + 4], 1']],
  ['a CR3 MBZ bit', ['        mov dword [rbx + VMCB_CR3 + 4], 0x80000000']],
  ['a CR4 MBZ bit', ['        mov dword [rbx + VMCB_CR4 + 4], 1']],
  ['DR6[63:32] not zero', ['        mov dword [rbx + VMCB_DR6 + 4], 1']],
  ['DR7[63:32] not zero', ['        mov dword [rbx + VMCB_DR7 + 4], 1']],
  ['an EFER MBZ bit', ['        or dword [rbx + VMCB_EFER], 0x10000']],
  ['EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set', ['        mov word [rbx + VMCB_CS_ATTRIB], 0x69b']],
  ['the VMRUN intercept clear', ['        mov dword [rbx + VMCB_INTERCEPT_WORD4], INTERCEPT_VMMCALL_MASK']],
  // 2^36 (MAXPHYADDR) − 8 KiB: the MSRPM's end reaches the limit (kvm-unit-tests
  // test_msrpm_iopm_bitmap_addrs); bits 11:0 are ignored, so − 8 KiB + 1 fails too.
  [
    'the MSRPM at 2^36 − 8 KiB',
    ['        mov rax, 0xfffffe000', '        mov [rbx + VMCB_MSRPM_BASE_PA], rax'],
  ],
  [
    'the MSRPM at 2^36 − 8 KiB + 1',
    ['        mov rax, 0xfffffe001', '        mov [rbx + VMCB_MSRPM_BASE_PA], rax'],
  ],
  [
    'the IOPM at 2^36 − 8 KiB',
    ['        mov rax, 0xfffffe000', '        mov [rbx + VMCB_IOPM_BASE_PA], rax'],
  ],
  ['ASID 0', ['        mov dword [rbx + VMCB_ASID], 0']],
  ['V_NMI_ENABLE without the NMI intercept', ['        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK']],
  [
    'EVENTINJ with reserved type 1',
    ['        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | 0x100 | 0x20'],
  ],
  ['EVENTINJ with reserved type 7', ['        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | 0x700']],
  [
    'EVENTINJ exception with vector 2 (NMI)',
    ['        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | 2'],
  ],
  [
    'EVENTINJ exception with vector 32',
    ['        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | 32'],
  ],
];

describe('VMRUN consistency checks (VMEXIT_INVALID)', () => {
  it.each(CASES)('%s fails VMRUN with exit code -1', (_name, setup) => {
    const s = runSvm({ setup, host: ['        mov r9, 1'] });
    expect(vmruns(s)).toHaveLength(0);
    const e = svmExits(s);
    expect(e).toHaveLength(1);
    expect(e[0].code).toBe(-1);
    expect(e[0].rip).toBe(label(s, 'run'));
    expect(vmcb(s, 'exit_code')).toBe(0xffffffff);
    expect(vmcb(s, 'exit_code_hi')).toBe(0xffffffff);
    const st = s.sim.stateAt(s.totalSteps);
    expect(st.svm.gif).toBe(false);
    expect(st.svm.guest).toBe(false);
    expect(st.lane).toBe(0);
    // The host went on after VMRUN.
    expect(Number(st.cpu.regs[2 * 9])).toBe(1);
  });

  it('passes V_NMI_ENABLE with the NMI intercept, and exception vector 0 (#DE)', () => {
    const s = runSvm({
      setup: [
        '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK',
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
        '        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | 0',
      ],
      guestIdt: ['        .intgate 0, guest_de'],
      extra: ['guest_de: vmmcall'],
    });
    expect(vmruns(s)).toHaveLength(1);
    expect(svmExits(s).map((e) => e.code)).toEqual([0x81]);
    expect(svmExits(s)[0].rip).toBe(label(s, 'guest_de'));
  });
});

describe('VMRUN consistency checks: the legal neighbours pass', () => {
  it.each([
    ['CR0.CD and CR0.NW both set', ['        or dword [rbx + VMCB_CR0], 0x60000000']],
    ['CS.L with CS.D clear (64-bit code)', ['        mov word [rbx + VMCB_CS_ATTRIB], 0x29b']],
    ['CS.D with CS.L clear', ['        mov word [rbx + VMCB_CS_ATTRIB], 0x49b']],
    [
      'the IOPM at 2^36 − 12 KiB',
      ['        mov rax, 0xfffffd000', '        mov [rbx + VMCB_IOPM_BASE_PA], rax'],
    ],
    // Bits 11:0 ignored: 2^36 − 8 KiB − 2 is the page at 2^36 − 12 KiB.
    [
      'the IOPM at 2^36 − 8 KiB − 2',
      ['        mov rax, 0xfffffdffe', '        mov [rbx + VMCB_IOPM_BASE_PA], rax'],
    ],
    [
      'the MSRPM at 2^36 − 12 KiB',
      ['        mov rax, 0xfffffd000', '        mov [rbx + VMCB_MSRPM_BASE_PA], rax'],
    ],
  ])('%s: VMRUN enters the guest', (_name, setup) => {
    const s = runSvm({ setup });
    expect(vmruns(s)).toHaveLength(1);
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x81, label(s, 'guest')]]);
  });

  it('bits 11:0 of MSRPM_BASE_PA are ignored: the map is read from its page', () => {
    // MSR 0x1d9's read bit is bit 2 of byte 0x76 of the map; the VMCB points 0x123 into the page.
    const s = runSvm({
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_MSR_PROT_MASK',
        '        mov qword [rbx + VMCB_MSRPM_BASE_PA], msrpm + 0x123',
        '        mov byte [msrpm + 0x76], 4',
      ],
      guest: ['        mov ecx, 0x1d9', 'gi:     rdmsr', '        vmmcall'],
    });
    expect(svmExits(s).map((e) => [e.code, e.rip, e.info1])).toEqual([[0x7c, label(s, 'gi'), 0]]);
  });
});

describe('SVM instructions without EFER.SVME', () => {
  it.each(['vmrun', 'stgi', 'clgi', 'vmload', 'vmsave', 'vmmcall'])('%s raises #UD', (ins) => {
    const s = open(
      scenarioDoc(
        ['        .intgate 6, ud', `start: ${ins}`, '        hlt', 'ud:    cli', '        hlt'],
        [],
        {
          arch: 'svm',
        },
      ),
    );
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0].vector).toBe(6);
    expect(d[0].rip).toBe(label(s, 'start'));
  });
});
