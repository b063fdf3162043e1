// The SVM instructions (AMD APM vol. 3): encodings 0F 01 D8–DD (3 bytes), their forms (RAX
// implicit, or written out for VMRUN/VMLOAD/VMSAVE) and errors; VMCB offsets by name.
import { describe, expect, it } from 'vitest';
import { Op } from '../../../src/core/asm/ir';
import { vmxConstant } from '../../../src/core/asm';
import { closestVmcbConstant } from '../../../src/core/svm/vmcb';
import { errorList, one, program } from './helpers';

describe('SVM instructions', () => {
  it.each([
    ['vmrun', Op.VMRUN],
    ['vmrun rax', Op.VMRUN],
    ['vmmcall', Op.VMMCALL],
    ['stgi', Op.STGI],
    ['clgi', Op.CLGI],
    ['vmload', Op.VMLOAD],
    ['vmload rax', Op.VMLOAD],
    ['vmsave', Op.VMSAVE],
    ['VMSAVE RAX', Op.VMSAVE],
  ])('%s assembles to op %i, 3 bytes, no operand', (src, op) => {
    const i = one(src);
    expect(i.op).toBe(op);
    expect(i.a).toBeNull();
    expect(i.len).toBe(3);
  });

  it('lays out consecutive SVM instructions 3 bytes apart', () => {
    const p = program('vmrun\nvmmcall\nstgi\nclgi\nvmload\nvmsave\nnop');
    expect(p.instrs.map((i) => i.addr - p.instrs[0].addr)).toEqual([0, 3, 6, 9, 12, 15, 18]);
  });

  it('an address other than RAX is an error naming the accepted forms', () => {
    expect(errorList('vmrun rbx')).toEqual([
      "1:7 'vmrun' takes no operands or rax (RAX holds the VMCB address), not 'rbx'",
    ]);
    expect(errorList('vmload eax')).toEqual([
      "1:8 'vmload' takes no operands or rax (RAX holds the VMCB address), not 'eax'",
    ]);
    expect(errorList('vmsave [rax]')[0]).toMatch(
      /^1:8 'vmsave' does not take \(mem\); 'vmsave' takes no operands or rax/,
    );
  });

  it('operands on the no-operand instructions are errors naming the form', () => {
    expect(errorList('stgi rax')[0]).toMatch(/^1:6 'stgi' does not take \(reg\); 'stgi' takes no operands/);
    expect(errorList('vmmcall 1')[0]).toMatch(
      /^1:9 'vmmcall' does not take \(imm\); 'vmmcall' takes no operands/,
    );
  });

  it('the mnemonics are reserved names', () => {
    expect(errorList('vmrun: nop')[0]).toMatch(/instruction name/);
  });
});

describe('VMCB fields by name', () => {
  it('offsets follow struct vmcb_control_area / vmcb_save_area', () => {
    expect(vmxConstant('VMCB_INT_CTL')?.value).toBe(0x60);
    expect(vmxConstant('VMCB_INT_VECTOR')?.value).toBe(0x64);
    expect(vmxConstant('VMCB_INT_STATE')?.value).toBe(0x68);
    expect(vmxConstant('VMCB_EXIT_CODE')?.value).toBe(0x70);
    expect(vmxConstant('VMCB_EXIT_INT_INFO')?.value).toBe(0x88);
    expect(vmxConstant('VMCB_EVENT_INJ')?.value).toBe(0xa8);
    expect(vmxConstant('VMCB_NEXT_RIP')?.value).toBe(0xc8);
    expect(vmxConstant('VMCB_RFLAGS')?.value).toBe(0x570);
    expect(vmxConstant('VMCB_RIP')?.value).toBe(0x578);
    expect(vmxConstant('VMCB_RSP')?.value).toBe(0x5d8);
    expect(vmxConstant('VMCB_RAX')?.value).toBe(0x5f8);
    expect(vmxConstant('VMCB_IDTR_BASE')?.value).toBe(0x488);
    expect(vmxConstant('VMCB_EFER')?.value).toBe(0x4d0);
    expect(vmxConstant('V_NMI_ENABLE_MASK')?.value).toBe(1 << 26);
    expect(vmxConstant('INTERCEPT_IRET_MASK')?.value).toBe(1 << 20);
    expect(vmxConstant('INTERCEPT_VMRUN_MASK')?.value).toBe(1);
    expect(vmxConstant('SVM_EXIT_VINTR')?.value).toBe(0x64);
    expect(vmxConstant('SVM_EXIT_IRET')?.value).toBe(0x74);
    expect(vmxConstant('SVM_EXIT_ERR')?.value).toBe(-1);
  });

  it('mov dword [rbx + VMCB_INT_CTL], eax addresses the field', () => {
    const i = one('mov dword [rbx + VMCB_INT_CTL], eax');
    expect(i.a).toMatchObject({ k: 2, base: 3, disp: 0x60, size: 4 });
  });

  it('an unknown VMCB field is a line:column error naming the closest field', () => {
    expect(errorList('mov eax, [rbx + VMCB_INT_CTRL]')).toEqual([
      "1:17 unknown VMCB field 'VMCB_INT_CTRL' (closest: VMCB_INT_CTL)",
    ]);
  });

  it.each([
    // The column of the name, wherever the operand is and whatever its case.
    [
      'mov dword [rbx + VMCB_EVENTINJ], 0',
      "1:18 unknown VMCB field 'VMCB_EVENTINJ' (closest: VMCB_EVENT_INJ)",
    ],
    [
      'nop\n  mov qword [rax + vmcb_exitintinfo], rcx',
      "2:20 unknown VMCB field 'vmcb_exitintinfo' (closest: VMCB_EXIT_INT_INFO)",
    ],
    ['mov eax, VMCB_NEXTRIP + 4', "1:10 unknown VMCB field 'VMCB_NEXTRIP' (closest: VMCB_NEXT_RIP)"],
    ['mov rax, [rbx + VMCB_IDTR_BAS]', "1:17 unknown VMCB field 'VMCB_IDTR_BAS' (closest: VMCB_IDTR_BASE)"],
  ])('%s: a line:column error naming the closest field', (src, err) => {
    expect(errorList(src)).toEqual([err]);
  });

  it('the closest field: least edit distance, ties to the longest common prefix', () => {
    expect(closestVmcbConstant('VMCB_INTERCEPTS')).toBe('VMCB_INTERCEPT');
    expect(closestVmcbConstant('vmcb_int_vec')).toBe('VMCB_INT_VECTOR');
    expect(closestVmcbConstant('VMCB_EXITCODE')).toBe('VMCB_EXIT_CODE');
  });
});
