import { run } from './program.js';

// A reader that stops early (`keymint create --help | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// run() reports every error itself and sets the exit code; nothing is left to catch here.
void run(process.argv);
