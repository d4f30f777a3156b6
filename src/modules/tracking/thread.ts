import { scanForTracking, type ScanOptions, type TrackingPlan } from './scan.js';

/** The content threads' task that scans a large HTML for tracking (src/app/content-worker.ts dispatches here). */
export interface TrackingScanTask extends ScanOptions {
  kind: 'tracking.scan';
  html: string;
}

export const isTrackingTask = (task: { kind: string }): task is TrackingScanTask => task.kind === 'tracking.scan';

export function runTrackingTask(task: TrackingScanTask): TrackingPlan {
  return scanForTracking(task.html, task);
}
