/** attachVideoElement(): any <video> (native HLS, progressive MP4, or a player we have no adapter for). */
import type { Reporter } from '../reporter.ts';
import { type AttachOptions, createTracker } from './playback.ts';

/** Reports from the element alone: stalls are `waiting` after the first frame. Returns detach(). */
export function attachVideoElement(
  video: HTMLMediaElement,
  reporter: Reporter,
  options: AttachOptions = {},
): () => void {
  const src = video.currentSrc || video.src;
  const tracker = createTracker(
    video,
    reporter,
    { player: 'video', manifestUrl: src || undefined, videoErrors: true },
    options,
  );
  const onResize = () => {
    const v = video as HTMLVideoElement;
    if (v.videoHeight)
      tracker.rendered('video', {
        id: `${v.videoWidth}x${v.videoHeight}`,
        width: v.videoWidth,
        height: v.videoHeight,
      });
  };
  video.addEventListener('resize', onResize);
  return () => {
    video.removeEventListener('resize', onResize);
    tracker.detach();
  };
}
