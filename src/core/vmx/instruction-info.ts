// The exit qualification and the VM-exit instruction-information field of VM exits caused by
// the VMX instructions that take an operand (VMCLEAR, VMPTRLD, VMXON, VMREAD, VMWRITE). SDM
// Vol. 3C "Exit Qualification for VM Exits" (the displacement of a memory operand) and
// "VM-Exit Instruction-Information Field" (its tables for VMCLEAR/VMPTRLD/VMPTRST/VMXON and
// for VMREAD/VMWRITE). A VMM rebuilds the operand from them: KVM's get_vmx_mem_address adds
// the base register, the index register shifted by the scaling, and the displacement.
import { Op } from '../asm/ir';
import type { DInstr, DOperand } from '../cpu/decoded';

/** Segment-register numbers of the instruction-information field. */
const SEG_SS = 2;
const SEG_DS = 3;
/** Address size 2: 64-bit (the lab runs in 64-bit mode). */
const ADDR64 = 2 << 7;
const RSP = 4;
const RBP = 5;

export interface VmxInstructionExit {
  qualification: number;
  instructionInfo: number;
}

/**
 * A memory operand's addressing fields: scaling (1:0), address size (9:7), segment (17:15),
 * index (21:18, invalid bit 22), base (26:23, invalid bit 27). The default segment is SS when
 * the base is RSP or RBP, else DS. A label alone is RIP-relative: no base and no index.
 */
function memoryInfo(o: DOperand): number {
  const index = o.index;
  const scale = o.scale;
  const seg = o.base === RSP || o.base === RBP ? SEG_SS : SEG_DS;
  return (
    (index >= 0 ? Math.log2(scale) & 3 : 0) |
    ADDR64 |
    (seg << 15) |
    (index >= 0 ? (index & 15) << 18 : 1 << 22) |
    (o.base >= 0 ? (o.base & 15) << 23 : 1 << 27)
  );
}

/**
 * The displacement as the exit qualification reports it (sign-extended; for RIP-relative
 * addressing the sum of the displacement and the RIP of the next instruction, which is the
 * absolute address the lab's `disp` already holds for a label-only operand). The lab keeps
 * VMCS values below 2^53, so a negative displacement is reported as its 32-bit two's
 * complement (docs/model.md).
 */
function displacement(o: DOperand): number {
  return o.disp >= 0 ? o.disp : o.disp >>> 0;
}

/**
 * For VMREAD and VMWRITE (Intel operand order VMREAD r/m64, r64 and VMWRITE r64, r/m64, which
 * the lab's `vmread DEST, FIELD` and `vmwrite FIELD, SOURCE` follow): reg1 (6:3) is the r/m
 * operand when it is a register (bit 10 = 1), reg2 (31:28) the register holding the field
 * encoding. The lab's extensions — a field name or constant where x86 has a register — have
 * no encoding: their register bits are reported as 0.
 */
function readWriteInfo(rm: DOperand, field: DOperand): number {
  let info = rm.k === 2 ? memoryInfo(rm) : rm.k === 0 ? (1 << 10) | ((rm.reg & 15) << 3) : 1 << 10;
  if (field.k === 0) info |= (field.reg & 15) << 28;
  return info >>> 0;
}

/** The exit information of a VMX instruction's VM exit; 0 and 0 for those without an operand. */
export function vmxInstructionExit(ins: DInstr): VmxInstructionExit {
  switch (ins.op) {
    case Op.VMCLEAR:
    case Op.VMPTRLD:
    case Op.VMXON:
      return ins.a.k === 2
        ? { qualification: displacement(ins.a), instructionInfo: memoryInfo(ins.a) >>> 0 }
        : { qualification: 0, instructionInfo: 0 };
    case Op.VMREAD:
      return {
        qualification: ins.a.k === 2 ? displacement(ins.a) : 0,
        instructionInfo: readWriteInfo(ins.a, ins.b),
      };
    case Op.VMWRITE:
      return {
        qualification: ins.b.k === 2 ? displacement(ins.b) : 0,
        instructionInfo: readWriteInfo(ins.b, ins.a),
      };
    default:
      return { qualification: 0, instructionInfo: 0 };
  }
}
