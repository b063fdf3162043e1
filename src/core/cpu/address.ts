// Effective addresses of memory operands.
import type { DOperand } from './decoded';
import type { Hart } from './hart';
import { regNumber } from './state';

/** base + index*scale + disp (SDM Vol. 1 "Specifying an Offset"). */
export function effectiveAddress(h: Hart, m: DOperand): number {
  const ea = (m.base < 0 ? 0 : regNumber(h.cpu, m.base)) + m.disp;
  return m.index < 0 ? ea : ea + regNumber(h.cpu, m.index) * m.scale;
}
