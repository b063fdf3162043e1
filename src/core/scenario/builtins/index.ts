// The built-in scenarios: data files in the public scenario format (docs/scenario.md).
import apicPriority from './apic-priority.json';
import immediateExit from './immediate-exit.json';
import kutDb from './kut-db.json';
import kvmSvmImmediateExit from './kvm-svm-immediate-exit.json';
import kvmSvmNmi from './kvm-svm-nmi.json';
import kvmSvmNestedIntr from './kvm-svm-nested-intr.json';
import kutEventDelivery from './kut-event-delivery.json';
import kutException from './kut-exception.json';
import kutExternalInterrupt from './kut-external-interrupt.json';
import kutIntrWindow from './kut-intr-window.json';
import kutInvalidInjection from './kut-invalid-injection.json';
import kutInsnIntercept from './kut-insn-intercept.json';
import kutGuestState from './kut-guest-state.json';
import kutMtf from './kut-mtf.json';
import kutNmiWindow from './kut-nmi-window.json';
import kutPendingEvent from './kut-pending-event.json';
import kutPreemptionTimer from './kut-preemption-timer.json';
import kutPreemptionTimerExpiry from './kut-preemption-timer-expiry.json';
import kutPreemptionTimerTf from './kut-preemption-timer-tf.json';
import nestedIntr from './nested-intr.json';
import nestedPreemptionTimer from './nested-preemption-timer.json';
import nmiBlocking from './nmi-blocking.json';
import softVnmi from './soft-vnmi.json';
import stiHltShadow from './sti-hlt-shadow.json';
import svmEventInj from './svm-event-inj.json';
import svmExitIntInfo from './svm-exitintinfo.json';
import svmIntrGif from './svm-intr-gif.json';
import svmIntrInterceptMix from './svm-intr-intercept-mix.json';
import svmVIntrMasking from './svm-v-intr-masking.json';
import svmVgif from './svm-vgif.json';
import svmVirq from './svm-virq.json';
import svmVirqShadow from './svm-virq-shadow.json';
import svmVnmi from './svm-vnmi.json';
import xenSvmVnmi from './xen-svm-vnmi.json';

/** In the order the picker lists them; the first is loaded when the app starts. */
export const BUILTIN_SCENARIOS: readonly unknown[] = [
  stiHltShadow,
  nmiBlocking,
  apicPriority,
  softVnmi,
  // nested VMX: KVM at L0 emulating VMX for a hypervisor at L1 (and KVM at L1, four levels)
  nestedIntr,
  immediateExit,
  nestedPreemptionTimer,
  // kvm-unit-tests style tests of the VMX hardware model (one program level each)
  kutNmiWindow,
  kutIntrWindow,
  kutPreemptionTimer,
  kutPreemptionTimerTf,
  kutPreemptionTimerExpiry,
  kutExternalInterrupt,
  kutInvalidInjection,
  kutPendingEvent,
  kutMtf,
  kutEventDelivery,
  kutInsnIntercept,
  kutGuestState,
  kutDb,
  kutException,
  // kvm-unit-tests x86/svm_tests.c style tests of the SVM hardware model
  svmVirq,
  svmVnmi,
  svmIntrGif,
  svmEventInj,
  svmVIntrMasking,
  svmVirqShadow,
  svmIntrInterceptMix,
  svmVgif,
  svmExitIntInfo,
  // Xen on AMD SVM: seed 004
  xenSvmVnmi,
  // KVM at L0 on the AMD processor (kvm_amd)
  kvmSvmNmi,
  kvmSvmImmediateExit,
  // nested SVM: KVM at L0 emulating SVM for a hypervisor at L1
  kvmSvmNestedIntr,
];

export function builtinNames(): string[] {
  return BUILTIN_SCENARIOS.map((s) => (s as { name: string }).name);
}

export function findBuiltin(name: string): unknown | undefined {
  return BUILTIN_SCENARIOS.find((s) => (s as { name: string }).name === name);
}
