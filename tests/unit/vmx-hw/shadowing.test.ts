// VMCS shadowing (SDM Vol. 3C "VMCS Shadowing", "VMREAD"/"VMWRITE" in non-root operation): a
// guest VMREAD/VMWRITE whose bitmap bit is 0 reads or writes the shadow VMCS at the VMCS link
// pointer without a VM exit; a bit of 1 exits (reasons 23 and 25).
import { describe, expect, it } from 'vitest';
import { exits, runVmx } from './vmx-helpers';
import { label, reg } from '../helpers';

/** A guest that reads GUEST_RIP and writes GUEST_RSP, then VMCALLs; the host enables shadowing. */
function shadowRun(readBitSet: boolean, writeBitSet: boolean, link = 'shadow') {
  // Bit 0x681e (GUEST_RIP) is byte 0xd03, bit 6; 0x681c (GUEST_RSP) is byte 0xd03, bit 4.
  return runVmx({
    setup: [
      '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS',
      '        vmwrite SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_SHADOW_VMCS',
      `        vmwrite VMCS_LINK_POINTER, ${link}`,
      '        vmwrite VMREAD_BITMAP, read_bitmap',
      '        vmwrite VMWRITE_BITMAP, write_bitmap',
      `        mov byte [read_bitmap + 0xd03], ${readBitSet ? '0x40' : '0'}`,
      `        mov byte [write_bitmap + 0xd03], ${writeBitSet ? '0x10' : '0'}`,
      // The shadow VMCS: a region with the shadow-VMCS indicator, loaded once to give it a value.
      '        vmclear [shadow_ptr]',
      '        vmptrld [shadow_ptr]',
      '        vmwrite GUEST_RIP, 0x1234',
      '        vmptrld [vmcs_ptr]',
    ],
    host: ['        vmptrld [shadow_ptr]', '        vmread r12, GUEST_RSP'],
    guest: [
      '        mov rdx, 0x681e',
      'g_read: vmread r10, rdx',
      '        mov rdx, 0x681c',
      '        mov rax, 0x5678',
      'g_write: vmwrite rdx, rax',
      '        vmcall',
    ],
    extra: [
      'shadow_ptr: .dq shadow',
      '        .align 4096',
      'shadow: .dd 0x80000001',
      '        .align 4096',
      'read_bitmap: .zero 4096',
      'write_bitmap: .zero 4096',
    ],
  });
}

describe('VMCS shadowing', () => {
  it('a bitmap bit of 0: the guest reads and writes the shadow VMCS, no VM exit', () => {
    const s = shadowRun(false, false);
    expect(exits(s).map((e) => e.reason)).toEqual([18]);
    expect(reg(s, 'r10')).toBe(0x1234n);
    expect(reg(s, 'r12')).toBe(0x5678n);
  });

  it('a bitmap bit of 1: VMREAD exits with reason 23, VMWRITE with 25', () => {
    expect(exits(shadowRun(true, false))[0].reason).toBe(23);
    expect(exits(shadowRun(false, true))[0].reason).toBe(25);
  });

  it('VMCS shadowing with a link pointer to an ordinary VMCS: VM entry fails, exit 0x80000021 with qualification 4', () => {
    const s = shadowRun(false, false, 'vmcs');
    expect(exits(s).map((e) => e.reason >>> 0)).toEqual([0x80000021]);
    const vmcs = s.view(s.totalSteps).vmx.vmcs.find((v) => v.addr === label(s, 'vmcs'))!;
    expect(vmcs.fields.find((f) => f.name === 'EXIT_QUALIFICATION')?.value).toBe(4);
  });
});
