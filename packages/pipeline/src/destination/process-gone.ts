/**
 * Whether no process with this PID runs on this machine (kill(pid, 0) says ESRCH). Any other answer, EPERM (another
 * user's) included, counts as running: what a gone process left is removed or taken over only when it surely is gone.
 */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
