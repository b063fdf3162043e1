// A level's SVM state beside its CPU: for the host GIF, EFER.SVME and VM_HSAVE_PA; for its
// guest GIF while it runs and, with vGIF, V_GIF (AMD APM vol. 2 "Global Interrupt Flag",
// "Virtual GIF").
import type { LevelSvmView } from '../../core/engine/view';
import { hexShort } from '../format';
import { Chip, Field } from '../level/fields';

export function SvmLevelState({ svm, prev }: { svm: LevelSvmView; prev: LevelSvmView | undefined }) {
  const changed = (a: unknown, b: unknown) => prev !== undefined && a !== b;
  return (
    <div className="cpu-row svm-level" data-testid="level-svm" aria-label="SVM state">
      <span className="row-label" title="AMD SVM state of this level">
        SVM
      </span>
      <div className="chips">
        {svm.gif !== null && (
          <Chip
            label="GIF"
            text={`GIF=${svm.gif ? 1 : 0}`}
            on={svm.gif}
            testId="level-gif"
            changed={changed(prev?.gif, svm.gif)}
            hint={
              svm.role === 'host'
                ? 'Global interrupt flag: 0 (after CLGI or #VMEXIT) holds INTR and NMI pending until STGI or VMRUN'
                : 'Global interrupt flag while the guest runs: VMRUN set it'
            }
          />
        )}
        {svm.role === 'guest' && svm.vgifEnabled && (
          <Chip
            label="V_GIF"
            text={`V_GIF=${svm.vgif ? 1 : 0}`}
            on={svm.vgif}
            testId="level-vgif"
            changed={changed(prev?.vgif, svm.vgif)}
            hint="Virtual GIF (vGIF: V_GIF_ENABLE in int_ctl): the guest's STGI/CLGI set and clear it; 0 holds the guest's virtual interrupts and NMIs"
          />
        )}
        <Chip
          label="SVME"
          text={`EFER.SVME=${svm.svme ? 1 : 0}`}
          on={svm.svme}
          testId="level-svme"
          changed={changed(prev?.svme, svm.svme)}
          hint="EFER.SVME: this level may run the SVM instructions (a guest's comes from its VMCB)"
        />
      </div>
      {svm.hsavePa !== null && (
        <Field
          label="VM_HSAVE_PA"
          testId="level-hsave"
          changed={changed(prev?.hsavePa, svm.hsavePa)}
          hint="MSR C001_0117: where VMRUN saves this host's state"
        >
          {hexShort(svm.hsavePa)}
        </Field>
      )}
    </div>
  );
}
