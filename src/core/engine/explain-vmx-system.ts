// The exit qualification and instruction information of the exits of issue 10 item 6, in
// words (SDM Vol. 3C "Exit Qualification for VM Exits", "VM-Exit Instruction-Information
// Field").
import { REG64 } from '../asm/ir';
import { ExitReason } from '../vmx/vm-exit';
import { F, type VmcsState, readField } from '../vmx/vmcs';
import { hex } from './describe';

/** A sentence about the qualification of exit `basic`, or '' for other exits. */
export function describeSystemExit(basic: number, v: VmcsState | null): string {
  if (!v) return '';
  const q = readField(v, F.EXIT_QUALIFICATION);
  const len = readField(v, F.VM_EXIT_INSTRUCTION_LEN);
  switch (basic) {
    case ExitReason.CR_ACCESS: {
      const cr = q & 0xf;
      const type = (q >>> 4) & 3;
      const reg = REG64[(q >>> 8) & 0xf];
      const what =
        type === 0 ? `MOV to CR${cr} from ${reg}` : type === 1 ? `MOV from CR${cr} to ${reg}` : 'CLTS/LMSW';
      return ` Exit qualification ${hex(q)}: ${what}; instruction length ${len}.`;
    }
    case ExitReason.IO_INSTRUCTION: {
      const size = (q & 7) + 1;
      const dir = q & 8 ? 'IN from' : 'OUT to';
      return ` Exit qualification ${hex(q)}: ${dir} port ${hex(q >>> 16)}, ${size} byte${size > 1 ? 's' : ''}, ${q & 0x40 ? 'immediate port operand' : 'port in DX'}; instruction length ${len}.`;
    }
    case ExitReason.INVLPG:
      return ` Exit qualification: the linear address ${hex(q)}; instruction length ${len}.`;
    case ExitReason.MWAIT:
      return ` Exit qualification ${q & 1}: the monitoring hardware was ${q & 1 ? '' : 'not '}armed; instruction length ${len}.`;
    case ExitReason.RDRAND: {
      const info = readField(v, F.VMX_INSTRUCTION_INFO);
      const size = [16, 32, 64][(info >>> 11) & 3] ?? 0;
      return ` VMX_INSTRUCTION_INFO ${hex(info)}: destination register ${(info >>> 3) & 0xf}, ${size}-bit; instruction length ${len}.`;
    }
    case ExitReason.RDPMC:
    case ExitReason.MONITOR:
    case ExitReason.WBINVD:
    case ExitReason.INVD:
      return ` Instruction length ${len}.`;
    default:
      return '';
  }
}
