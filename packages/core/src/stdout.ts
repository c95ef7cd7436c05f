// A closed stdout (`bminf generate … | head -c1`) makes the next write fail with EPIPE, which Node
// raises as an unhandled 'error' event: a stack trace, and for the migrator a staging folder left
// behind. The commands watch this signal instead: it aborts the work in progress, and the process
// ends quietly with 141 (128 + SIGPIPE), as a command killed by SIGPIPE would.

let controller: AbortController | undefined;

/** The exit code of a command whose stdout was closed by its reader. */
export const STDOUT_CLOSED_EXIT_CODE = 141;

/** An AbortSignal that fires when stdout's reader goes away; the first call starts watching. */
export function stdoutClosedSignal(): AbortSignal {
  if (!controller) {
    const c = new AbortController();
    controller = c;
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') c.abort(e);
      else throw e;
    });
  }
  return controller.signal;
}

/** True once stdout's reader has gone away (only known after stdoutClosedSignal() was called). */
export function stdoutClosed(): boolean {
  return controller?.signal.aborted ?? false;
}
