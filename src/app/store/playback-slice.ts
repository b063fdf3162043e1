// Playing: the playhead advances at `speed` steps per second and stops at the end. Ticks are
// at most 60 per second; faster speeds move several steps per tick. The view requests stay
// coalesced, so a slow worker makes the panels skip steps rather than lag behind.
import { SPEEDS, type PlaybackActions, type PlaybackValues, type SliceCreator } from './types';

const MAX_TICKS_PER_SECOND = 60;

export const createPlaybackSlice: SliceCreator<PlaybackValues & PlaybackActions> =
  ({ runtime }) =>
  (set, get) => {
    function stopTimer() {
      if (runtime.playTimer !== null) clearTimeout(runtime.playTimer);
      runtime.playTimer = null;
    }

    function schedule() {
      stopTimer();
      const speed = get().speed;
      const interval = 1000 / Math.min(speed, MAX_TICKS_PER_SECOND);
      const stepsPerTick = Math.max(1, Math.round((speed * interval) / 1000));
      runtime.playTimer = setTimeout(() => {
        runtime.playTimer = null;
        const { playing, step, info } = get();
        if (!playing || !info) return;
        const next = Math.min(info.totalSteps, step + stepsPerTick);
        get().seek(next);
        if (next >= info.totalSteps) set({ playing: false });
        else schedule();
      }, interval);
    }

    return {
      playing: false,
      speed: 4,
      play() {
        const { info, step } = get();
        if (!info || info.totalSteps === 0) return;
        if (step >= info.totalSteps) get().seek(0);
        set({ playing: true });
        schedule();
      },
      pause() {
        stopTimer();
        if (get().playing) set({ playing: false });
      },
      togglePlay() {
        if (get().playing) get().pause();
        else get().play();
      },
      setSpeed(speed) {
        const nearest = SPEEDS.reduce((a, b) => (Math.abs(b - speed) < Math.abs(a - speed) ? b : a));
        set({ speed: nearest });
        if (get().playing) schedule();
      },
      faster() {
        const i = SPEEDS.indexOf(get().speed as (typeof SPEEDS)[number]);
        get().setSpeed(SPEEDS[Math.min(SPEEDS.length - 1, i + 1)]);
      },
      slower() {
        const i = SPEEDS.indexOf(get().speed as (typeof SPEEDS)[number]);
        get().setSpeed(SPEEDS[Math.max(0, i - 1)]);
      },
    };
  };
